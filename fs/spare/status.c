/* Status JSON; see status.h. */
#include "spare/status.h"
#include "spare/spare.h"
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

int hs_status_json(struct hs_spare *sp, const struct hs_status_info *info, struct hs_buf *out)
{
	struct hs_spare_status st;
	hs_spare_status(sp, &st);
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
#define I(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
#define S(k, v) json_object_object_add(o, k, (v) ? json_object_new_string(v) : NULL)
	S("server", sp->ix->server);
	S("point", sp->ix->id);
	S("image", info->image_name);
	S("mountpoint", info->mountpoint);
	S("store", info->store);
	S("state", info->state_dir);
	I("pid", info->pid);
	json_object_object_add(o, "read_only", json_object_new_boolean(info->read_only));
	I("size", st.size);
	I("chunk_size", st.chunk_size);
	I("chunks_total", st.chunks_total);
	I("chunks_present", st.chunks_present);
	I("chunks_written", st.chunks_written);
	I("bytes_from_seed", st.bytes_from_seed);
	I("bytes_from_store", st.bytes_from_store);
	I("bytes_read_ahead", st.bytes_read_ahead);
	json_object_object_add(o, "hydrate_bytes_per_s", json_object_new_double(st.hydrate_bytes_per_s));
	json_object_object_add(o, "hydrated", json_object_new_boolean(st.hydrated));
	I("errors", st.errors);
	S("last_error", st.last_error[0] ? st.last_error : NULL);
#undef I
#undef S
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out->len = 0;
	int r = hs_buf_append(out, text, strlen(text));
	if (r == 0)
		r = hs_buf_append(out, "\n", 1);
	json_object_put(o);
	return r;
}
