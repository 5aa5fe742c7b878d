#include "rp_err.h"

static const struct {
	const char *code;
	const char *text;
} rp_err_table[] = {
#define RP_ERR_ROW(sym, code, text) { code, text },
	RP_ERR_LIST(RP_ERR_ROW)
#undef RP_ERR_ROW
};

const char *
rp_err_code(int err)
{
	if (err < 0 || err >= RP_ERR__COUNT)
		return "unknown_error";
	return rp_err_table[err].code;
}

const char *
rp_err_str(int err)
{
	if (err < 0 || err >= RP_ERR__COUNT)
		return "unknown error";
	return rp_err_table[err].text;
}
