/* The EL1 host agent: polls the command ring the harness writes through the shared file and
 * performs each command as the host would, here a real `hvc` with the harness's registers. */
#include <stdint.h>

#include "core/constants.h"
#include "qemu/layout.h"

void agent_main(void);
void agent_hvc(uint64_t x[31]);
void agent_fault_hvc(uint64_t x[31]);
void agent_dma_hvc(uint64_t x[31]);
uint64_t agent_access(uint64_t x[31], uint64_t ipa, uint64_t value, uint64_t store);
void agent_access_resume(void);
void agent_run(uint64_t x[31]);
void guest_main(void);
void guest_exit(uint64_t vm_x[31], uint64_t kind);
uint64_t guest_access(uint64_t vm_x[31], uint64_t ipa, uint64_t value, uint64_t store);
void guest_access_resume(void);
void guest_exit_resume(void);
void guest_a32_stub(void);

_Static_assert(__builtin_offsetof(struct hq_ring, guest_hole_ipa) ==
                   __builtin_offsetof(struct hq_ring, vm_x) + 248,
               "start.S guest_exit: the hole's address is at [SP_EL1, #248]");

/* VCPU_RUN's registers: not the slot, which the ring may reuse while the VM runs. */
static uint64_t run_x[31];

/* The harness is another CPU as far as ordering goes (QEMU's TCG thread and the harness share
 * the file), so a command's fields are read after head, and results written before tail. */
static void barrier(void) { __asm__ volatile("dmb ish" ::: "memory"); }

void agent_main(void) {
  struct hq_ring* ring = (struct hq_ring*)HQ_RING_IPA;
  uint64_t tail = ring->tail;
  barrier();
  ring->access_resume = (uint64_t)(uintptr_t)&agent_access_resume;
  ring->ready = 1;
  for (;;) {
    while (ring->head == tail) {
    }
    barrier();
    struct hq_slot* s = &ring->slot[tail % HQ_RING_SLOTS];
    switch (s->cmd) {
      case HQ_CMD_NOP:
        s->status = HQ_STATUS_OK;
        break;
      case HQ_CMD_HOST_HVC:
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        agent_hvc(s->x);
        s->status = ring->hvc_status == 0 ? HQ_STATUS_OK : HQ_STATUS_UNDEFINED;
        break;
      case HQ_CMD_MEM_LOAD:
      case HQ_CMD_MEM_STORE:
      case HQ_CMD_HOST_FAULT:
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        s->value = agent_access(s->x, s->ipa, s->value, s->cmd == HQ_CMD_MEM_STORE);
        s->status = ring->hvc_status;
        break;
      case HQ_CMD_HOST_FAULT_INJECT:
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        agent_fault_hvc(s->x);
        s->status = ring->hvc_status == 0 ? HQ_STATUS_OK : HQ_STATUS_UNDEFINED;
        break;
      case HQ_CMD_DEV_LOAD: /* the device's access: EL2 emulates the device */
      case HQ_CMD_DEV_STORE:
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        agent_dma_hvc(s->x);
        s->status = ring->hvc_status == 0 ? HQ_STATUS_OK : HQ_STATUS_UNDEFINED;
        break;
      case HQ_CMD_VCPU_RUN:
        /* When the vCPU runs, the guest agent completes this command and those after it; the
         * hypercall returns at the VM's exit to the host, whose command the ring's tail names. */
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        for (uint32_t i = 0; i < 31; ++i) run_x[i] = s->x[i];
        agent_run(run_x);
        tail = ring->tail;
        barrier();
        s = &ring->slot[tail % HQ_RING_SLOTS];
        s->status = ring->hvc_status == 0 ? HQ_STATUS_OK : HQ_STATUS_UNDEFINED;
        break;
      case HQ_CMD_PARK:
        __asm__ volatile("hvc #1" ::: "memory"); /* EL2 restarts everything: no return */
        break;
      case HQ_CMD_SMP_COUNT:
        ring->hvc_status = HQ_STATUS_BAD_COMMAND;
        __asm__ volatile("hvc #8" ::: "memory");
        s->status = ring->hvc_status;
        break;
      default:
        s->status = HQ_STATUS_BAD_COMMAND;
        break;
    }
    barrier();
    ring->tail = ++tail;
  }
}

/* The guest agent: entered by EL2 each time KCore runs a vCPU (agent/start.S guest_start). The
 * VCPU_RUN command at the tail is done; then VM-side commands until an exit returns to the host
 * (the host agent resumes, and this loop is abandoned). */
void guest_main(void) {
  struct hq_ring* ring = (struct hq_ring*)HQ_RING_IPA;
  uint64_t tail = ring->tail;
  barrier();
  ring->guest_access_resume = (uint64_t)(uintptr_t)&guest_access_resume;
  ring->guest_exit_resume = (uint64_t)(uintptr_t)&guest_exit_resume;
  ring->guest_a32_stub = (uint64_t)(uintptr_t)&guest_a32_stub;
  ring->slot[tail % HQ_RING_SLOTS].status = HQ_STATUS_OK;
  barrier();
  ring->tail = ++tail;
  for (;;) {
    while (ring->head == tail) {
    }
    barrier();
    struct hq_slot* s = &ring->slot[tail % HQ_RING_SLOTS];
    switch (s->cmd) {
      case HQ_CMD_NOP:
        s->status = HQ_STATUS_OK;
        break;
      case HQ_CMD_VM_EXIT: {
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        for (uint32_t i = 0; i < 4; ++i) ring->vm_x[i] = s->x[i];
        guest_exit(ring->vm_x, hq_exit_kind_of(s->exit[0], s->exit[1]));
        s->status = ring->hvc_status == 0 ? HQ_STATUS_OK : HQ_STATUS_UNDEFINED;
        break;
      }
      case HQ_CMD_HOST_FAULT_INJECT: /* a host fault while a VM runs: the handler decides */
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        guest_exit(ring->vm_x, HQ_EXIT_FAULT);
        s->status = ring->hvc_status == 0 ? HQ_STATUS_OK : HQ_STATUS_UNDEFINED;
        break;
      case HQ_CMD_DEV_LOAD: /* a device of the VM: EL2 emulates it, the VM resumes */
      case HQ_CMD_DEV_STORE:
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        guest_exit(ring->vm_x, HQ_EXIT_DMA);
        s->status = ring->hvc_status == 0 ? HQ_STATUS_OK : HQ_STATUS_UNDEFINED;
        break;
      case HQ_CMD_MEM_LOAD:
      case HQ_CMD_MEM_STORE:
        ring->hvc_status = HQ_STATUS_UNDEFINED;
        s->value = guest_access(ring->vm_x, s->ipa, s->value, s->cmd == HQ_CMD_MEM_STORE);
        s->status = ring->hvc_status;
        break;
      case HQ_CMD_PARK:
        __asm__ volatile("hvc #1" ::: "memory");
        break;
      default:
        s->status = HQ_STATUS_BAD_COMMAND;
        break;
    }
    barrier();
    ring->tail = ++tail;
  }
}
