/*
 * coordctl web's embedded page: client/web/index.html, app.css and app.js,
 * compiled in (coordctl-web-data.c is generated from them at build time),
 * so the view needs no file and no network beyond the loopback address.
 */
#include <string.h>

#include "coordctl-web.h"

extern const char coordctl_web_data_index_html[], coordctl_web_data_app_css[],
	coordctl_web_data_app_js[];
extern const size_t coordctl_web_data_index_html_len, coordctl_web_data_app_css_len,
	coordctl_web_data_app_js_len;

const struct coordctl_web_asset *coordctl_web_asset_find(const char *path)
{
	static struct coordctl_web_asset assets[] = {
		{"/", "text/html; charset=utf-8", NULL, 0},
		{"/app.css", "text/css; charset=utf-8", NULL, 0},
		{"/app.js", "text/javascript; charset=utf-8", NULL, 0},
	};

	/* The lengths are not constant expressions: fill them in on first use. */
	if (!assets[0].data) {
		assets[0].data = coordctl_web_data_index_html;
		assets[0].len = coordctl_web_data_index_html_len;
		assets[1].data = coordctl_web_data_app_css;
		assets[1].len = coordctl_web_data_app_css_len;
		assets[2].data = coordctl_web_data_app_js;
		assets[2].len = coordctl_web_data_app_js_len;
	}
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (strcmp(assets[i].path, path) == 0)
			return &assets[i];
	return NULL;
}
