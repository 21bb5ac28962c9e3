/*
 * fuzz_request.c - vigild's request decoder (ctl_decode in control.c):
 * any frame payload is classified (well formed, malformed, unknown) with
 * no crash, no leak, bounded nesting, and a "cmd" only when well formed.
 */
#include "fuzz_common.h"

#include <json-c/json.h>

#include "../../src/vigild/control_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL;
	const char *cmd = NULL;
	enum ctl_decoded d;
	char *msg;

	if (size > 1024 * 1024)
		return 0;
	msg = malloc(size + 1);
	if (msg == NULL)
		return 0;
	memcpy(msg, data, size);
	msg[size] = '\0';
	d = ctl_decode(msg, size, &o, &cmd);
	if ((d == CTL_REQ_OK || d == CTL_REQ_UNKNOWN) != (o != NULL))
		abort();
	if ((d == CTL_REQ_OK || d == CTL_REQ_UNKNOWN) != (cmd != NULL))
		abort();
	if (ctl_decoded_name(d) == NULL)
		abort();
	json_object_put(o);
	free(msg);
	return 0;
}
