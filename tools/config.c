/* The configuration file (see config.h): parsed by libinih through a line
 * reader of ours, which counts lines (so every setting knows its line),
 * takes indentation off (no continuation lines: an indented setting is a
 * setting) and checks section headers and line lengths itself. */
#include "config.h"
#include "cli.h"
#include "basics/err.h"
#include "basics/path.h"
#include "store/http.h"
#include "store/name.h"
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_DEFAULT_PATH "/etc/hotspare/hotspare.conf"
#define CFG_MAX_BYTES (1 << 20) /* a configuration file larger than this is a mistake */

static const struct {
	const char *name;
	const char *env;  /* the environment variable that also sets it, or NULL */
	const char *def;  /* the built-in default, or NULL */
	bool many;        /* may be given more than once (a list) */
	enum { V_PLACE, V_PATH, V_URI, V_PROFILE } kind;
} keys[CFG_NKEYS] = {
	[CFG_STORE] = { "store", NULL, NULL, false, V_PLACE },
	[CFG_SEED] = { "seed", NULL, NULL, true, V_PLACE },
	[CFG_KEYFILE] = { "keyfile", "HOTSPARE_KEYFILE", NULL, false, V_PATH },
	[CFG_PASSPHRASE_FILE] = { "passphrase-file", "HOTSPARE_PASSPHRASE_FILE", NULL, false, V_PATH },
	[CFG_CREDENTIALS_FILE] = { "credentials-file", "HOTSPARE_CREDENTIALS_FILE", NULL, false, V_PATH },
	[CFG_STATE_DIR] = { "state-dir", NULL, NULL, false, V_PATH },
	[CFG_MOUNT_DIR] = { "mount-dir", NULL, "/var/lib/hotspare/mnt", false, V_PATH },
	[CFG_CONNECT] = { "connect", NULL, "qemu:///system", false, V_URI },
	[CFG_REPORT_DIR] = { "report-dir", NULL, NULL, false, V_PATH },
	[CFG_PROFILE] = { "profile", NULL, "linux", false, V_PROFILE },
};

struct entry {
	size_t section; /* 0: the top of the file; else a [server NAME] section */
	enum cfg_key key;
	char *value;
	unsigned line;
};

struct section {
	char server[HS_SERVER_MAX + 1];
	unsigned line;
};

/* The loaded file and the choices made since; one per process. */
static struct {
	char path[PATH_MAX];
	bool from_env, none, present;
	struct entry *e;
	size_t ne;
	struct section *s; /* s[0] is the top of the file */
	size_t ns;
	char server[HS_SERVER_MAX + 1]; /* the current server ("" none) */
	size_t cur;                      /* its section, 0 if it has none */
	enum cfg_from noted[CFG_NKEYS];
	const char *noted_value[CFG_NKEYS];
	char *applied[CFG_NKEYS]; /* the key and credentials files taken from the file */
	char **kept;               /* strings handed out by cfg_server_dir */
	size_t nkept;
	const char **seeds;        /* the last cfg_seed_list */
	unsigned *seed_lines;
} cfg = { .ns = 0 };

/* What the parse is at. */
struct parse {
	const char *text;
	size_t len, at;
	unsigned line;
	size_t section;
	unsigned err_line; /* the first error we found (0: none) */
	char err[512];
};

static void perr(struct parse *p, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(struct parse *p, unsigned line, const char *fmt, ...)
{
	if (p->err_line)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
	p->err_line = line;
}

const char *cfg_name(enum cfg_key k)
{
	return keys[k].name;
}

const char *cfg_path(bool *from_env)
{
	if (from_env)
		*from_env = cfg.from_env;
	return cfg.none ? NULL : cfg.path;
}

bool cfg_present(void)
{
	return cfg.present;
}

/* A section header "[server NAME]" (s: the line, indentation taken off). */
static void header(struct parse *p, const char *s)
{
	char esc[96];
	const char *end = strchr(s, ']');
	if (!end) {
		perr(p, p->line, "a section header without ']'");
		return;
	}
	const char *tail = end + 1 + strspn(end + 1, " \t\r");
	if (*tail && *tail != '\n' && *tail != ';' && *tail != '#') {
		perr(p, p->line, "text after the section header");
		return;
	}
	char in[160];
	snprintf(in, sizeof in, "%.*s", (int)(end - s - 1), s + 1);
	char *w = in + strspn(in, " \t");
	if (strncmp(w, "server", 6) != 0 || (w[6] != ' ' && w[6] != '\t')) {
		perr(p, p->line, "unknown section [%s] (only [server NAME])", hs_escape(in, esc, sizeof esc));
		return;
	}
	char *name = w + 6 + strspn(w + 6, " \t");
	name[strcspn(name, " \t")] = 0;
	if (hs_server_name_check(name) < 0) {
		perr(p, p->line, "[server %s]: %s", hs_escape(name, esc, sizeof esc), hs_err_msg());
		hs_err_clear();
		return;
	}
	for (size_t i = 1; i < cfg.ns; i++)
		if (!strcmp(cfg.s[i].server, name)) {
			perr(p, p->line, "[server %s] again (first on line %u)", name, cfg.s[i].line);
			return;
		}
	struct section *v = realloc(cfg.s, (cfg.ns + 1) * sizeof *v);
	if (!v) {
		perr(p, p->line, "out of memory");
		return;
	}
	cfg.s = v;
	snprintf(v[cfg.ns].server, sizeof v->server, "%s", name);
	v[cfg.ns].line = p->line;
	p->section = cfg.ns++;
}

/* libinih's reader: the next line into str (num bytes), without its
 * indentation; NULL at the end, or to stop at a fault of ours. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	if (p->at >= p->len || p->err_line)
		return NULL;
	const char *s = p->text + p->at, *nl = memchr(s, '\n', p->len - p->at);
	size_t n = nl ? (size_t)(nl - s) + 1 : p->len - p->at;
	p->at += n;
	p->line++;
	if (p->line == 1 && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
		s += 3; /* a UTF-8 byte order mark */
		n -= 3;
	}
	size_t ind = 0;
	while (ind < n && (s[ind] == ' ' || s[ind] == '\t'))
		ind++;
	s += ind;
	n -= ind;
	if (memchr(s, 0, n)) {
		perr(p, p->line, "a NUL byte");
		return NULL;
	}
	if (n > (size_t)num - 1) {
		perr(p, p->line, "longer than %d characters", num - 2);
		return NULL;
	}
	memcpy(str, s, n);
	str[n] = 0;
	if (*s == '[')
		header(p, str);
	return p->err_line ? NULL : str;
}

/* Is a value fit for its setting? 0, or the fault in why. */
static int check_value(enum cfg_key k, const char *v, char *why, size_t cap)
{
	char esc[96];
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			snprintf(why, cap, "%s holds a control character", keys[k].name);
			return -1;
		}
	switch (keys[k].kind) {
	case V_PLACE:
		if (v[0] == '/' || !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8) || !strncmp(v, "s3://", 5))
			return 0;
		snprintf(why, cap, "%s '%s' is not an absolute path or an http://, https:// or s3:// URL", keys[k].name,
			 hs_escape(v, esc, sizeof esc));
		return -1;
	case V_PATH:
		if (v[0] == '/')
			return 0;
		snprintf(why, cap, "%s '%s' is not an absolute path", keys[k].name, hs_escape(v, esc, sizeof esc));
		return -1;
	case V_URI:
		if (!strpbrk(v, " \t"))
			return 0;
		snprintf(why, cap, "%s '%s' holds a blank", keys[k].name, hs_escape(v, esc, sizeof esc));
		return -1;
	case V_PROFILE:
		if (!strcmp(v, "linux") || !strcmp(v, "windows"))
			return 0;
		snprintf(why, cap, "profile '%s' is not linux or windows", hs_escape(v, esc, sizeof esc));
		return -1;
	}
	return 0;
}

/* libinih's handler: one NAME = VALUE line. Returns 0 on a fault. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	(void)section; /* the reader keeps ours */
	struct parse *p = user;
	char esc[96], why[256];
	int k = 0;
	while (k < CFG_NKEYS && strcmp(keys[k].name, name) != 0)
		k++;
	if (k == CFG_NKEYS) {
		perr(p, p->line, "unknown setting '%s'", hs_escape(name, esc, sizeof esc));
		return 0;
	}
	if (!*value) {
		perr(p, p->line, "%s has no value", name);
		return 0;
	}
	if (check_value((enum cfg_key)k, value, why, sizeof why) < 0) {
		perr(p, p->line, "%s", why);
		return 0;
	}
	for (size_t i = 0; !keys[k].many && i < cfg.ne; i++)
		if (cfg.e[i].section == p->section && cfg.e[i].key == (enum cfg_key)k) {
			perr(p, p->line, "%s is set twice (first on line %u)", name, cfg.e[i].line);
			return 0;
		}
	struct entry *v = realloc(cfg.e, (cfg.ne + 1) * sizeof *v);
	char *copy = strdup(value);
	if (!v || !copy) {
		free(copy);
		if (v)
			cfg.e = v;
		perr(p, p->line, "out of memory");
		return 0;
	}
	cfg.e = v;
	v[cfg.ne++] = (struct entry){ p->section, (enum cfg_key)k, copy, p->line };
	return 1;
}

/* Read the whole file (regular, at most CFG_MAX_BYTES) into *text. It
 * names the files root's commands read keys from: only its owner (root, or
 * whoever runs the command) may write it. */
static int slurp(const char *path, char **text, size_t *len)
{
	/* O_NONBLOCK: a FIFO in its place must not hang the command. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return hs_err(e, "configuration file %s: %s", path, strerror(e));
	}
	struct stat st;
	int r = 0;
	if (fstat(fileno(f), &st) < 0)
		r = hs_err(errno, "configuration file %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = hs_err(EINVAL, "configuration file %s is not a regular file", path);
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		r = hs_err(EPERM, "configuration file %s belongs to user %u, neither root nor you", path,
			   (unsigned)st.st_uid);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		r = hs_err(EPERM, "configuration file %s may be written by group or others: chmod go-w it", path);
	else if (st.st_size > CFG_MAX_BYTES)
		r = hs_err(EFBIG, "configuration file %s is larger than %d bytes", path, CFG_MAX_BYTES);
	char *buf = r == 0 ? malloc((size_t)st.st_size + 1) : NULL;
	if (r == 0 && !buf)
		r = -ENOMEM;
	size_t n = r == 0 ? fread(buf, 1, (size_t)st.st_size, f) : 0;
	if (r == 0 && ferror(f))
		r = hs_err(EIO, "configuration file %s: read error", path);
	fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = 0;
	*text = buf;
	*len = n;
	return 0;
}

int cfg_load(void)
{
	const char *env = getenv("HOTSPARE_CONFIG");
	cfg.from_env = env != NULL;
	cfg.none = env && !*env;
	snprintf(cfg.path, sizeof cfg.path, "%s", env && *env ? env : CFG_DEFAULT_PATH);
	if (!(cfg.s = calloc(1, sizeof *cfg.s)))
		return -ENOMEM;
	cfg.ns = 1;
	/* The environment as the command found it (the files taken from here are set there too). */
	for (int k = 0; k < CFG_NKEYS; k++) {
		const char *v = keys[k].env ? getenv(keys[k].env) : NULL;
		if (cfg.noted[k] == CFG_FROM_NONE && v && *v)
			cfg_note((enum cfg_key)k, CFG_FROM_ENV, v);
	}
	if (cfg.none)
		return 0;
	/* The default file may be absent (no defaults); one named must be there. */
	if (!env && access(cfg.path, F_OK) < 0 && errno == ENOENT)
		return 0;
	char *text = NULL;
	size_t len = 0;
	int r = slurp(cfg.path, &text, &len);
	if (r < 0)
		return r;
	cfg.present = true;
	struct parse p = { .text = text, .len = len };
	int at = ini_parse_stream(reader, &p, handler, &p);
	free(text);
	if (at == -2)
		return -ENOMEM;
	if (p.err_line && (at <= 0 || (unsigned)at >= p.err_line))
		return hs_err(EINVAL, "%s line %u: %s", cfg.path, p.err_line, p.err);
	if (at > 0)
		return hs_err(EINVAL, "%s line %d: not 'NAME = VALUE', '[server NAME]' or a comment", cfg.path, at);
	return 0;
}

void cfg_note(enum cfg_key k, enum cfg_from from, const char *value)
{
	cfg.noted[k] = from;
	cfg.noted_value[k] = value;
}

/* The entry of k in section sec (the first, for a list), or NULL. */
static const struct entry *find(size_t sec, enum cfg_key k)
{
	for (size_t i = 0; i < cfg.ne; i++)
		if (cfg.e[i].section == sec && cfg.e[i].key == k)
			return &cfg.e[i];
	return NULL;
}

const char *cfg_get_from(enum cfg_key k, enum cfg_from *from, unsigned *line, const char **section)
{
	const struct entry *e = cfg.cur ? find(cfg.cur, k) : NULL;
	if (!e)
		e = find(0, k);
	*line = e ? e->line : 0;
	*section = e && e->section ? cfg.s[e->section].server : NULL;
	*from = e ? CFG_FROM_FILE : keys[k].def ? CFG_FROM_DEFAULT : CFG_FROM_NONE;
	return e ? e->value : keys[k].def;
}

const char *cfg_get(enum cfg_key k)
{
	enum cfg_from from;
	unsigned line;
	const char *sec;
	return cfg_get_from(k, &from, &line, &sec);
}

const char *cfg_server_dir(enum cfg_key k)
{
	const char *dir = cfg_get(k);
	if (!dir || !cfg.server[0])
		return NULL;
	char **v = realloc(cfg.kept, (cfg.nkept + 1) * sizeof *v);
	if (!v)
		return NULL;
	cfg.kept = v;
	size_t n = strlen(dir);
	while (n > 0 && dir[n - 1] == '/')
		n--; /* "/srv/" and "/" join as "/srv/SERVER" and "/SERVER" */
	if (asprintf(&v[cfg.nkept], "%.*s/%s", (int)n, dir, cfg.server) < 0)
		return NULL;
	return v[cfg.nkept++];
}

int cfg_make_dirs(const char *path, bool whole)
{
	size_t i = 0;
	while (i < cfg.nkept && cfg.kept[i] != path)
		i++;
	if (!path || i == cfg.nkept)
		return 0;
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	if (!whole)
		*strrchr(buf, '/') = 0; /* "DIR/SERVER": DIR */
	size_t len = strlen(buf);
	for (size_t k = 1; k <= len; k++) {
		if (buf[k] != '/' && buf[k] != 0)
			continue;
		char c = buf[k];
		buf[k] = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return hs_err(errno, "cannot make %s: %s", buf, strerror(errno));
		buf[k] = c;
	}
	return 0;
}

const char *const *cfg_seed_list(const unsigned **lines)
{
	size_t sec = cfg.cur && find(cfg.cur, CFG_SEED) ? cfg.cur : 0, n = 0;
	free(cfg.seeds);
	free(cfg.seed_lines);
	cfg.seeds = calloc(cfg.ne + 1, sizeof *cfg.seeds);
	cfg.seed_lines = calloc(cfg.ne + 1, sizeof *cfg.seed_lines);
	for (size_t i = 0; cfg.seeds && cfg.seed_lines && i < cfg.ne; i++)
		if (cfg.e[i].section == sec && cfg.e[i].key == CFG_SEED) {
			cfg.seed_lines[n] = cfg.e[i].line;
			cfg.seeds[n++] = cfg.e[i].value;
		}
	if (lines)
		*lines = cfg.seed_lines;
	static const char *const none[] = { NULL };
	return cfg.seeds ? cfg.seeds : none;
}

int cfg_seeds(struct cli_list *seeds)
{
	if (seeds->n)
		return 0; /* --seed given: the command line wins, whole */
	for (const char *const *s = cfg_seed_list(NULL); *s; s++)
		if (cli_list_add(seeds, (char *)*s) < 0)
			return -ENOMEM;
	return 0;
}

static void use_server(const char *server)
{
	snprintf(cfg.server, sizeof cfg.server, "%s", server ? server : "");
	cfg.cur = 0;
	for (size_t i = 1; server && i < cfg.ns; i++)
		if (!strcmp(cfg.s[i].server, server))
			cfg.cur = i;
}

/* The key file, or the credentials file, from the configuration, when no
 * option or environment variable named one and it is not taken yet. */
static int apply(const char *cmd, enum cfg_key k)
{
	enum cfg_from from;
	unsigned line;
	const char *sec;
	const char *file = cfg_get_from(k, &from, &line, &sec);
	if (cfg.noted[k] == CFG_FROM_OPTION || cfg.noted[k] == CFG_FROM_ENV || from != CFG_FROM_FILE)
		return -1;
	if (cfg.applied[k] && !strcmp(cfg.applied[k], file))
		return -1;
	int r;
	if (k == CFG_KEYFILE) {
		const char *pass = cli_passphrase_file();
		r = cli_key_load(file, pass ? pass : cfg_get(CFG_PASSPHRASE_FILE));
	} else {
		char *user = NULL, *password = NULL, abs[PATH_MAX];
		r = hs_credentials_read(file, &user, &password);
		if (r == 0 && !realpath(file, abs))
			r = hs_err(errno, "credentials file %s: %s", file, strerror(errno));
		if (password)
			explicit_bzero(password, strlen(password));
		free(password);
		free(user);
		if (r == 0 && setenv("HOTSPARE_CREDENTIALS_FILE", abs, 1) < 0)
			r = -errno;
	}
	if (r < 0) {
		const char *m = hs_err_msg();
		return cli_failf(cmd, "%s (%s on line %u of %s)", m ? m : strerror(-r), keys[k].name, line, cfg.path);
	}
	free(cfg.applied[k]);
	cfg.applied[k] = strdup(file);
	return -1;
}

int cfg_set_server(const char *cmd, const char *server)
{
	use_server(server);
	int c = apply(cmd, CFG_KEYFILE);
	return c >= 0 ? c : apply(cmd, CFG_CREDENTIALS_FILE);
}

void cfg_use_server(const char *server)
{
	use_server(server);
}

enum cfg_from cfg_noted(enum cfg_key k, const char **value)
{
	if (value)
		*value = cfg.noted_value[k];
	return cfg.noted[k];
}

const char *cfg_env_name(enum cfg_key k)
{
	return keys[k].env;
}

/* Could s be a store given on the command line? A path (no server name
 * holds a '/'; a URL has one too), or something that exists. */
static bool could_be_store(const char *s)
{
	struct stat st;
	return strchr(s, '/') != NULL || lstat(s, &st) == 0;
}

/* The configured store for server (NULL: the top of the file's). */
static const char *store_for(const char *server)
{
	char keep[HS_SERVER_MAX + 1];
	size_t cur = cfg.cur;
	snprintf(keep, sizeof keep, "%s", cfg.server);
	use_server(server);
	const char *s = cfg_get(CFG_STORE);
	snprintf(cfg.server, sizeof cfg.server, "%s", keep);
	cfg.cur = cur;
	return s;
}

int cfg_store_arg(const char *cmd, int *argc, char ***argv, int min, int max, int ref)
{
	char server[HS_SERVER_MAX + 1], point[HS_POINT_ID_LEN + 1], disk[HS_DISK_MAX + 1];
	char **av = *argv;
	int n = *argc - optind;
	/* The server the arguments name if STORE was left out. */
	const char *guess = ref >= 1 && n >= ref ? av[optind + ref - 1] : NULL;
	bool named = guess && hs_ref_parse(guess, server, point, disk) == 0;
	const char *store = store_for(named ? server : NULL);
	if (store && (n < min || (n >= 1 && !could_be_store(av[optind]) && (max < 0 || n + 1 <= max)))) {
		/* Kept for the process's life: the command's argument pointers point into it. */
		static char **inserted;
		char **v = calloc((size_t)*argc + 2, sizeof *v);
		if (!v)
			return cli_fail(cmd, -ENOMEM);
		memcpy(v, av, (size_t)optind * sizeof *v);
		v[optind] = (char *)store;
		memcpy(v + optind + 1, av + optind, (size_t)n * sizeof *v);
		free(inserted);
		inserted = v;
		*argv = av = v;
		(*argc)++;
	}
	const char *r = ref >= 0 && optind + ref < *argc ? av[optind + ref] : NULL;
	named = r && hs_ref_parse(r, server, point, disk) == 0;
	hs_err_clear(); /* a bad reference is the command's to report */
	return cfg_set_server(cmd, named ? server : NULL);
}
