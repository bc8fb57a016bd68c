/* The host agent's flat binary (built from hypervisor/qemu/agent/), placed at HQ_AGENT_PA. */
	.section .agent, "ax"
	.incbin "agent.bin"
