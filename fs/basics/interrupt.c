/* Signals as a flag; see interrupt.h. */
#include "basics/interrupt.h"
#include <signal.h>
#include <stddef.h>

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	if (!caught)
		caught = sig;
}

void hs_interrupt_catch(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int hs_interrupted(void)
{
	return caught;
}

void hs_interrupt_resend(void)
{
	int sig = caught;
	if (!sig)
		return;
	signal(sig, SIG_DFL);
	raise(sig);
}
