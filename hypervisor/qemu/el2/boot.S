/* EL2 entry and exception vectors of KCore on QEMU virt (docs/qemu.md). QEMU starts the ELF at
 * _start at EL2 (virtualization=on), MMU and caches off. */
#define HQ_PLAT_PA 0x60600000
#define HQ_PERCPU_PA 0x60700000	/* layout.h: CPU 0's block; TPIDR_EL2 points at this CPU's */
#define HQ_PERCPU_SIZE 0x20000

	.section .text.boot, "ax"
	.global _start
_start:
	mrs	x0, mpidr_el1
	and	x0, x0, #0xff
	cbnz	x0, park		/* CPU 1 enters at _secondary (PSCI CPU_ON), never here */
	mrs	x0, CurrentEL
	cmp	x0, #(2 << 2)
	b.ne	park
	ldr	x0, =HQ_PERCPU_PA
	msr	tpidr_el2, x0
	ldr	x0, =__stack_top
	mov	sp, x0
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	ldr	x0, =hq_vectors
	msr	vbar_el2, x0
	isb
	bl	hq_main			/* erets to the host agent; returns only on failure */
park:
	wfe
	b	park

/* CPU 1, started by CPU 0's PSCI CPU_ON at EL2 with the MMU off; x0 (the context id) is its
 * per-CPU block, whose top is its stack. */
	.global _secondary
_secondary:
	msr	tpidr_el2, x0
	add	x1, x0, #(HQ_PERCPU_SIZE >> 12), lsl #12
	mov	sp, x1
	ldr	x1, =hq_vectors
	msr	vbar_el2, x1
	isb
	bl	hq_secondary_main	/* never returns */
	b	park

/* HQ_SMP_FAULT_SILENT (a test): CPU 1 starts here and never checks in. */
	.global _secondary_silent
_secondary_silent:
	b	park

/* hq_park: parked := 1, wait for go, restart at _start. Uses no stack and no memory but the EL2
 * page: the harness rewrites the rest of RAM meanwhile (a soft reset, docs/qemu.md). */
#define HQ_PLAT_PARKED 800
#define HQ_PLAT_GO 808
	.text
	.global hq_park
hq_park:
	ldr	x0, =HQ_PLAT_PA
	mov	x1, #1
	dmb	ish
	str	x1, [x0, #HQ_PLAT_PARKED]
1:	ldr	x1, [x0, #HQ_PLAT_GO]
	cbz	x1, 1b
	dmb	ish
	b	_start

/* A trap from EL1 (an agent): x0..x30 go to this CPU's register file (the one the core sees
 * through plat_cpu_regs; its address is the first word of the per-CPU block), hq_trap (hq_irq
 * for an interrupt) handles it, and the registers it leaves there are what the agent resumes
 * with. SP_EL2 is back at the stack top on every entry. */
.macro lower_entry handler
	stp	x0, x1, [sp, #-16]!
	mrs	x0, tpidr_el2
	ldr	x0, [x0]
	stp	x2, x3, [x0, #16]
	stp	x4, x5, [x0, #32]
	stp	x6, x7, [x0, #48]
	stp	x8, x9, [x0, #64]
	stp	x10, x11, [x0, #80]
	stp	x12, x13, [x0, #96]
	stp	x14, x15, [x0, #112]
	stp	x16, x17, [x0, #128]
	stp	x18, x19, [x0, #144]
	stp	x20, x21, [x0, #160]
	stp	x22, x23, [x0, #176]
	stp	x24, x25, [x0, #192]
	stp	x26, x27, [x0, #208]
	stp	x28, x29, [x0, #224]
	str	x30, [x0, #240]
	ldp	x2, x3, [sp], #16
	stp	x2, x3, [x0]
	bl	\handler
	mrs	x30, tpidr_el2
	ldr	x30, [x30]
	ldp	x0, x1, [x30]
	ldp	x2, x3, [x30, #16]
	ldp	x4, x5, [x30, #32]
	ldp	x6, x7, [x30, #48]
	ldp	x8, x9, [x30, #64]
	ldp	x10, x11, [x30, #80]
	ldp	x12, x13, [x30, #96]
	ldp	x14, x15, [x30, #112]
	ldp	x16, x17, [x30, #128]
	ldp	x18, x19, [x30, #144]
	ldp	x20, x21, [x30, #160]
	ldp	x22, x23, [x30, #176]
	ldp	x24, x25, [x30, #192]
	ldp	x26, x27, [x30, #208]
	ldp	x28, x29, [x30, #224]
	ldr	x30, [x30, #240]
	eret
.endm

	.text
	.balign 4
hq_lower_sync:
	lower_entry hq_trap
hq_lower_irq:
	lower_entry hq_irq

/* Anything else is a bug of the platform or the agent: hq_unexpected(vector offset) panics. */
.macro unexpected off
	.balign 0x80
	mov	x0, #\off
	b	hq_unexpected
.endm

	.section .text.vectors, "ax"
	.balign 0x800
	.global hq_vectors
hq_vectors:
	unexpected 0x000
	unexpected 0x080
	unexpected 0x100
	unexpected 0x180
	unexpected 0x200
	unexpected 0x280
	unexpected 0x300
	unexpected 0x380
	.balign 0x80
	b	hq_lower_sync		/* 0x400: synchronous from lower EL, AArch64 */
	.balign 0x80
	b	hq_lower_irq		/* 0x480: IRQ from lower EL, AArch64 (a VM's timer, world.c) */
	unexpected 0x500
	unexpected 0x580
	.balign 0x80
	b	hq_lower_sync		/* 0x600: synchronous from lower EL, AArch32 (HVC32, world.c) */
	unexpected 0x680
	unexpected 0x700
	unexpected 0x780
