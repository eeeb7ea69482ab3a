/* hotspare backup STORE SERVER SOURCE: a point that stores only the chunks
 * neither the store nor the server's latest snapshot holds. */
#include "cli.h"
#include "store/index.h"

int cmd_backup(int argc, char **argv)
{
	return cli_capture(argc, argv, HS_KIND_BACKUP);
}
