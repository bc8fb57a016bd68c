/* The host agent's entry and its full-register hypercall (docs/qemu.md). EL1, stage-1 MMU off,
 * running at HQ_AGENT_IPA behind the host's stage 2. The same image is the guest agent
 * (guest_start, at +0x80), behind the running VM's stage 2. */
#define HQ_AGENT_IPA 0x8000000000
#define HQ_AGENT_STACK_TOP 0xF0000

#define HQ_GUEST_STACK_TOP 0xE0000

/* The agent's own callee-saved registers, lr and sp go to `area` while the harness's (or the
 * vCPU's) registers are loaded for a trap; restore_own brings them back (clobbers x1, x2). */
.macro save_own area, tmp, tmp2
	ldr	\tmp, =\area
	stp	x19, x20, [\tmp]
	stp	x21, x22, [\tmp, #16]
	stp	x23, x24, [\tmp, #32]
	stp	x25, x26, [\tmp, #48]
	stp	x27, x28, [\tmp, #64]
	stp	x29, x30, [\tmp, #80]
	mov	\tmp2, sp
	str	\tmp2, [\tmp, #96]
.endm
.macro restore_own area
	ldr	x1, =\area
	ldp	x19, x20, [x1]
	ldp	x21, x22, [x1, #16]
	ldp	x23, x24, [x1, #32]
	ldp	x25, x26, [x1, #48]
	ldp	x27, x28, [x1, #64]
	ldp	x29, x30, [x1, #80]
	ldr	x2, [x1, #96]
	mov	sp, x2
.endm
/* x0..x30 := [sp .. sp + 248) and back. */
.macro load_all_sp
	ldp	x0, x1, [sp]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x19, [sp, #144]
	ldp	x20, x21, [sp, #160]
	ldp	x22, x23, [sp, #176]
	ldp	x24, x25, [sp, #192]
	ldp	x26, x27, [sp, #208]
	ldp	x28, x29, [sp, #224]
	ldr	x30, [sp, #240]
.endm
.macro store_all_sp
	stp	x0, x1, [sp]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	str	x30, [sp, #240]
.endm

	.section .text.start, "ax"
	.global _start
_start:
	ldr	x0, =(HQ_AGENT_IPA + HQ_AGENT_STACK_TOP)
	mov	sp, x0
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	bl	agent_main
3:	wfe
	b	3b

/* void agent_hvc(uint64_t x[31]): hvc #0 with x0..x30 = x[0..30]; x[] := x0..x30 after it. Every
 * register the host hands KCore is the harness's, so the array is addressed through sp, and
 * the agent's own callee-saved registers and sp wait in `saved`. */
	.text
	.global agent_hvc
agent_hvc:
	save_own saved, x1, x2
	mov	sp, x0
	load_all_sp
	hvc	#0
agent_hvc_store:
	store_all_sp
	restore_own saved
	ret

	.bss
	.balign 16
saved:	.skip 112

/* uint64_t agent_access(uint64_t x[31], uint64_t ipa, uint64_t value, uint64_t store): the
 * host's own access to ipa with x0..x30 = x[0..30], as KCore's register file holds them, so
 * that a trap saves exactly those: the address is in sp and the data in d0/d1, which no trap
 * touches (EL2 reads them). A load reads d0 and an `hvc #2` lets EL2 finish it; a store reads
 * the old word into d1, stores d0 (= value) and does the same `hvc #2`. A stage-2 abort on the
 * access goes to EL2, which either retries the instruction or resumes at agent_access_resume.
 * Returns d0 (the loaded value). Nothing of x[] is written back: EL2 keeps the host's
 * registers in its file, which is what the harness exports. */
	.text
.macro load_host_regs
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
.endm

	.global agent_access
	.global agent_access_resume
agent_access:
	save_own saved, x4, x5
	fmov	d0, x2
	mov	sp, x1
	mov	x30, x0
	cbnz	x3, 1f
	load_host_regs
	ldr	d0, [sp]
	hvc	#2
	b	agent_access_resume
1:	load_host_regs
	ldr	d1, [sp]
	str	d0, [sp]
	hvc	#2
agent_access_resume:
	restore_own saved
	fmov	x0, d0
	ret

/* void agent_fault_hvc(uint64_t x[31]): hvc #3 (an injected host stage-2 fault, EL2 reads its
 * registers from the slot) with x0..x30 = x[0..30]; x[] := x0..x30 after it. */
	.global agent_fault_hvc
agent_fault_hvc:
	save_own saved, x1, x2
	mov	sp, x0
	mov	x30, x0
	load_host_regs
	hvc	#3
	b	agent_hvc_store

/* void agent_dma_hvc(uint64_t x[31]): hvc #7, the DMA doorbell (EL2's emulated device reads
 * the command from the slot), with x0..x30 = x[0..30] so that the trap saves the host's own
 * registers in KCore's register file; x[] := x0..x30 after it. */
	.global agent_dma_hvc
agent_dma_hvc:
	save_own saved, x1, x2
	mov	sp, x0
	mov	x30, x0
	load_host_regs
	hvc	#7
	b	agent_hvc_store

/* void agent_run(uint64_t x[31]): VCPU_RUN, `hvc #4` with x0..x30 = x[0..30]; x[] := x0..x30
 * after it. When KCore runs the vCPU, this returns only after the VM's exit to the host, with
 * the host's registers as KCore restored them. */
	.global agent_run
agent_run:
	save_own saved, x1, x2
	mov	sp, x0
	load_all_sp
	hvc	#4
	b	agent_hvc_store

/* ---- the guest agent (docs/qemu.md): the same image, entered by EL2 at guest_start with the
 * vCPU's x0..x30 in the registers and SP_EL1 = the ring's vm_x, where they are parked first. */
	.section .text.start, "ax"
	.org	0x80			/* layout.h: HQ_GUEST_ENTRY_OFFSET */
	.global guest_start
guest_start:
	store_all_sp
	ldr	x0, =(HQ_AGENT_IPA + HQ_GUEST_STACK_TOP)
	mov	sp, x0
	bl	guest_main
1:	wfe
	b	1b

	.text
/* void guest_exit(uint64_t vm_x[31], uint64_t kind): the VM's exit with x0..x30 = vm_x, trapped
 * by the instruction `kind` names (layout.h, enum hq_exit_kind). Returns when the VM resumes,
 * vm_x := x0..x30 as EL2 resumed it; an exit to the host never returns (the next run enters
 * guest_start). A trapped MRS or WFI does not execute: EL2 resumes after it. An interrupt or
 * abort exit resumes, if KCore resumes the VM, at guest_exit_resume (so does HVC32, `hvc #9`,
 * after which EL2 runs guest_a32_stub in AArch32). The interrupt and the aborts need one
 * register after the VM's are loaded (the timer's enable, the hole's address): x30, whose VM
 * value EL2 takes from vm_x[30] (world.c). HQ_EXIT_FAULT is the injected host fault's `hvc #3`
 * (the handler refuses it while a VM runs; the VM resumes). HQ_EXIT_DMA is the DMA doorbell
 * `hvc #7` (EL2's device does the access; the VM resumes). */
	.global guest_exit
guest_exit:
	save_own gsaved, x2, x3
	mov	sp, x0
	cmp	x1, #1
	b.eq	1f
	cmp	x1, #2
	b.eq	3f
	cmp	x1, #3
	b.eq	4f
	cmp	x1, #4
	b.eq	5f
	cmp	x1, #5
	b.eq	6f
	cmp	x1, #6
	b.hs	7f
	load_all_sp
	hvc	#0
	b	2f
1:	load_all_sp
	hvc	#5
	b	2f
3:	load_all_sp
	mrs	x0, id_aa64pfr0_el1
	b	2f
4:	load_all_sp
	wfi
	b	2f
5:	load_all_sp
	hvc	#3
	b	2f
6:	load_all_sp
	hvc	#7
	b	2f
7:	cmp	x1, #6
	b.eq	8f
	cmp	x1, #7
	b.eq	9f
	cmp	x1, #9
	b.eq	11f
	load_all_sp			/* HQ_EXIT_IABT */
	ldr	x30, [sp, #248]		/* hq_ring.guest_hole_ipa, right after vm_x */
	br	x30
8:	load_all_sp			/* HQ_EXIT_IRQ: the EL1 physical timer, due now */
	msr	cntp_tval_el0, xzr
	mov	x30, #1			/* CNTP_CTL: enabled, not masked */
	msr	cntp_ctl_el0, x30
	isb
10:	b	10b			/* until the interrupt is taken */
11:	load_all_sp			/* HQ_EXIT_HVC32: EL2 continues at guest_a32_stub */
	hvc	#9
	b	2f
9:	load_all_sp			/* HQ_EXIT_DABT */
	ldr	x30, [sp, #248]
	ldr	x30, [x30]
	.global guest_exit_resume
guest_exit_resume:
2:	store_all_sp
	restore_own gsaved
	ret

/* The VM's HVC32 exit: A32 code, entered by EL2 in AArch32 SVC mode at an IPA below 4 GiB
 * (world.c). The trap never comes back here. */
	.balign 8
	.global guest_a32_stub
guest_a32_stub:
	.inst	0xe1400070		/* A32: hvc #0 */
	.inst	0xeafffffe		/* A32: b . */

/* uint64_t guest_access(uint64_t vm_x[31], uint64_t ipa, uint64_t value, uint64_t store): the
 * VM's access, as agent_access does it for the host (x0..x30 = vm_x at the access, data in d0
 * and d1), finished by `hvc #6`; an abort EL2 ends resumes at guest_access_resume. */
	.global guest_access
	.global guest_access_resume
guest_access:
	save_own gsaved, x4, x5
	fmov	d0, x2
	mov	sp, x1
	mov	x30, x0
	cbnz	x3, 1f
	load_host_regs
	ldr	d0, [sp]
	hvc	#6
	b	guest_access_resume
1:	load_host_regs
	ldr	d1, [sp]
	str	d0, [sp]
	hvc	#6
guest_access_resume:
	restore_own gsaved
	fmov	x0, d0
	ret

	.bss
	.balign 16
gsaved:	.skip 112
