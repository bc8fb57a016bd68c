/* The host agent's entry and its full-register hypercall (docs/qemu.md). EL1, stage-1 MMU off,
 * running at HQ_AGENT_IPA behind the host's stage 2. */
#define HQ_AGENT_IPA 0x8000000000
#define HQ_AGENT_STACK_TOP 0xF0000

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
	ldr	x1, =saved
	stp	x19, x20, [x1]
	stp	x21, x22, [x1, #16]
	stp	x23, x24, [x1, #32]
	stp	x25, x26, [x1, #48]
	stp	x27, x28, [x1, #64]
	stp	x29, x30, [x1, #80]
	mov	x2, sp
	str	x2, [x1, #96]
	mov	sp, x0
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
	hvc	#0
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
	ldr	x1, =saved
	ldp	x19, x20, [x1]
	ldp	x21, x22, [x1, #16]
	ldp	x23, x24, [x1, #32]
	ldp	x25, x26, [x1, #48]
	ldp	x27, x28, [x1, #64]
	ldp	x29, x30, [x1, #80]
	ldr	x2, [x1, #96]
	mov	sp, x2
	ret

	.bss
	.balign 16
saved:	.skip 112
