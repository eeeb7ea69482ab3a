/* hotspare config [SERVER] [--json]
 * The settings a command would use (for SERVER: with its [server NAME]
 * section) and where each comes from: the command line (--keyfile,
 * --passphrase-file, --credentials-file), the environment, a line of the
 * configuration file, or the built-in default. Loads no key. */
#include "cli.h"
#include "config.h"
#include "basics/err.h"
#include "store/name.h"
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define USAGE "[SERVER] [--json]"

/* One setting's value and its source, in words and as JSON. */
struct shown {
	const char *value;
	const char *const *list; /* seeds */
	const unsigned *lines;
	enum cfg_from from;
	unsigned line;
	const char *section;
	const char *env;
};

static struct shown lookup(enum cfg_key k)
{
	struct shown s = { 0 };
	const char *v;
	enum cfg_from noted = cfg_noted(k, &v);
	s.env = cfg_env_name(k);
	if (noted == CFG_FROM_OPTION || noted == CFG_FROM_ENV) {
		s.value = v;
		s.from = noted;
		return s;
	}
	s.value = cfg_get_from(k, &s.from, &s.line, &s.section);
	if (k == CFG_SEED)
		s.list = cfg_seed_list(&s.lines);
	return s;
}

static void source_text(enum cfg_key k, const struct shown *s, unsigned line, char *out, size_t cap)
{
	const char *path = cfg_path(NULL);
	switch (s->from) {
	case CFG_FROM_OPTION: snprintf(out, cap, "command line (--%s)", cfg_name(k)); break;
	case CFG_FROM_ENV: snprintf(out, cap, "environment (%s)", s->env); break;
	case CFG_FROM_FILE:
		snprintf(out, cap, "%s line %u%s%s%s", path, line, s->section ? ", [server " : "",
			 s->section ? s->section : "", s->section ? "]" : "");
		break;
	case CFG_FROM_DEFAULT: snprintf(out, cap, "built-in default"); break;
	case CFG_FROM_NONE: snprintf(out, cap, "not set"); break;
	}
}

static const char *from_word(enum cfg_from f)
{
	static const char *const w[] = { "none", "default", "file", "environment", "option" };
	return w[f];
}

static void print_text(const char *server)
{
	bool from_env;
	const char *path = cfg_path(&from_env);
	char src[512];
	if (!path)
		printf("configuration file: none (HOTSPARE_CONFIG is empty)\n");
	else
		printf("configuration file: %s%s%s\n", path, from_env ? " (from HOTSPARE_CONFIG)" : "",
		       cfg_present() ? "" : " (not present: built-in defaults only)");
	if (server)
		printf("server: %s\n", server);
	printf("%-17s %-40s %s\n", "SETTING", "VALUE", "FROM");
	for (int k = 0; k < CFG_NKEYS; k++) {
		struct shown s = lookup((enum cfg_key)k);
		if (s.list && s.list[0]) {
			for (size_t i = 0; s.list[i]; i++) {
				source_text((enum cfg_key)k, &s, s.lines[i], src, sizeof src);
				printf("%-17s %-40s %s\n", cfg_name((enum cfg_key)k), s.list[i], src);
			}
			continue;
		}
		source_text((enum cfg_key)k, &s, s.line, src, sizeof src);
		printf("%-17s %-40s %s\n", cfg_name((enum cfg_key)k), s.value ? s.value : "-", src);
	}
}

static void print_json(const char *server)
{
	bool from_env;
	const char *path = cfg_path(&from_env);
	json_object *o = json_object_new_object(), *set = json_object_new_object();
	json_object_object_add(o, "file", path ? json_object_new_string(path) : NULL);
	json_object_object_add(o, "file_present", json_object_new_boolean(cfg_present()));
	json_object_object_add(o, "from_env", json_object_new_boolean(from_env));
	json_object_object_add(o, "server", server ? json_object_new_string(server) : NULL);
	for (int k = 0; k < CFG_NKEYS; k++) {
		struct shown s = lookup((enum cfg_key)k);
		json_object *j = json_object_new_object();
		if (k == CFG_SEED && s.from == CFG_FROM_FILE) {
			json_object *a = json_object_new_array(), *l = json_object_new_array();
			for (size_t i = 0; s.list && s.list[i]; i++) {
				json_object_array_add(a, json_object_new_string(s.list[i]));
				json_object_array_add(l, json_object_new_int((int)s.lines[i]));
			}
			json_object_object_add(j, "value", a);
			json_object_object_add(j, "lines", l);
		} else {
			json_object_object_add(j, "value", s.value ? json_object_new_string(s.value) : NULL);
		}
		json_object_object_add(j, "from", json_object_new_string(from_word(s.from)));
		if (s.from == CFG_FROM_FILE) {
			json_object_object_add(j, "line", json_object_new_int((int)s.line));
			json_object_object_add(j, "section", s.section ? json_object_new_string(s.section) : NULL);
		}
		if (s.from == CFG_FROM_ENV)
			json_object_object_add(j, "variable", json_object_new_string(s.env));
		json_object_object_add(set, cfg_name((enum cfg_key)k), j);
	}
	json_object_object_add(o, "settings", set);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'j')
			json = true;
		else
			return c == 'h' ? cli_help("config", USAGE) : cli_usage("config", USAGE);
	}
	if (argc - optind > 1)
		return cli_usage("config", USAGE);
	const char *server = argc - optind == 1 ? argv[optind] : NULL;
	int r = server ? hs_server_name_check(server) : 0;
	if (r < 0)
		return cli_fail("config", r);
	cfg_use_server(server);
	if (json)
		print_json(server);
	else
		print_text(server);
	return 0;
}
