/* SPDX-License-Identifier: MIT */
/* aws.h - AWS settings from the environment: the region, and credentials (static keys or the ECS task role's), cached and refreshed. */
#ifndef MCPGW_AWS_H
#define MCPGW_AWS_H

#include <stddef.h>
#include <stdint.h>

/* Longest values accepted; longer ones are refused with a clear error.  Session tokens
 * issued by STS are a few hundred to about two thousand characters today. */
#define AWS_REGION_MAX 63
#define AWS_KEY_ID_MAX 128
#define AWS_SECRET_MAX 256
#define AWS_TOKEN_MAX  8192

/* The ECS agent's credentials endpoint for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. */
#define AWS_CONTAINER_HOST "http://169.254.170.2"

/* Credentials are refreshed this long before they expire (or halfway through their
 * life when that is shorter). */
#define AWS_REFRESH_AHEAD_S 300

typedef struct aws_creds {
    char key_id[AWS_KEY_ID_MAX + 1];
    char secret[AWS_SECRET_MAX + 1];
    char token[AWS_TOKEN_MAX + 1];    /* "" when there is none */
    int64_t expires_at;               /* Unix seconds; 0 for keys that do not expire */
} aws_creds_t;

typedef struct aws_cred_provider aws_cred_provider_t;

/* The region from AWS_REGION, else AWS_DEFAULT_REGION, into out (outlen >= 64).  It must
 * be lowercase letters, digits and hyphens.  Returns 0, or -1 with err filled (naming
 * both variables when neither is set). */
int aws_region(char *out, size_t outlen, char *err, size_t errlen);

/* Decide where credentials come from, reading the environment once:
 * AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) when set; otherwise the
 * container endpoint, AWS_CONTAINER_HOST + AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 * AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a loopback or ECS/EKS agent
 * address only), sending "Authorization:" with the token read from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read at every fetch) or
 * AWS_CONTAINER_AUTHORIZATION_TOKEN.  Nothing is fetched yet.
 * Returns a provider owned by the caller (aws_creds_close), or NULL with err filled.
 * Error messages name variables, never their secret values. */
aws_cred_provider_t *aws_creds_open(char *err, size_t errlen);

/* Wipe every secret the provider holds and free it.  aws_creds_close(NULL) is a no-op. */
void aws_creds_close(aws_cred_provider_t *p);

/* Current credentials, fetched from the container endpoint when none are cached or the
 * cached ones are due for refresh.  A failed refresh while the cached credentials are
 * still valid keeps using them (and tries again 10 s later); without valid ones the
 * error is returned, and repeated for 1 s without a new attempt.  The result points into
 * the provider and stays valid until the next call on it; NULL with err filled. */
const aws_creds_t *aws_creds_get(aws_cred_provider_t *p, char *err, size_t errlen);

/* The service refused the credentials as expired: forget them so that the next
 * aws_creds_get fetches new ones.  Returns 1 when that can help (container credentials),
 * 0 for static keys from the environment. */
int aws_creds_invalidate(aws_cred_provider_t *p);

/* Where the credentials come from, for messages: "environment" or "container". */
const char *aws_creds_source(const aws_cred_provider_t *p);

#endif
