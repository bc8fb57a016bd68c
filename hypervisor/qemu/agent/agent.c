/* The EL1 host agent: polls the command ring the harness writes through the shared file and
 * performs each command as the host would, here a real `hvc` with the harness's registers. */
#include <stdint.h>

#include "qemu/layout.h"

void agent_main(void);
void agent_hvc(uint64_t x[31]);

/* The harness is another CPU as far as ordering goes (QEMU's TCG thread and the harness share
 * the file), so a command's fields are read after head, and results written before tail. */
static void barrier(void) { __asm__ volatile("dmb ish" ::: "memory"); }

void agent_main(void) {
  struct hq_ring* ring = (struct hq_ring*)HQ_RING_IPA;
  uint64_t tail = ring->tail;
  barrier();
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
      case HQ_CMD_PARK:
        __asm__ volatile("hvc #1" ::: "memory"); /* EL2 restarts everything: no return */
        break;
      default:
        s->status = HQ_STATUS_BAD_COMMAND;
        break;
    }
    barrier();
    ring->tail = ++tail;
  }
}
