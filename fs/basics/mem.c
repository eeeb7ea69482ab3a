/* This process's memory; see mem.h. */
#include "basics/mem.h"
#include <stdio.h>
#include <string.h>

uint64_t hs_self_rss(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	char line[256];
	unsigned long long kb = 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0 && sscanf(line + 6, "%llu", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}
