/*
 * openapi.h - docs/openapi.json, compiled in (see cmake/Embed.cmake), and
 * served at /v1/openapi.json.
 */
#ifndef KAIROSD_OPENAPI_H
#define KAIROSD_OPENAPI_H

extern const char kairosd_openapi_json[];

#endif
