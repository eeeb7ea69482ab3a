/* Ctrl-C, SIGTERM and SIGHUP turned into a flag that long work polls, so it
 * stops where it can undo what it started (a hypervisor's backup job, a
 * snapshot volume) instead of dying with it left behind. */
#pragma once

/* Catch SIGINT, SIGTERM and SIGHUP from now on (system calls restart). */
void hs_interrupt_catch(void);

/* The signal caught since hs_interrupt_catch, or 0. */
int hs_interrupted(void);

/* Let the signal caught (if any) do what it does by default: the process
 * ends as the signal says once its clean-up is done. */
void hs_interrupt_resend(void);
