/* SPDX-License-Identifier: MIT */
/* jsonlines.c - check that every line on stdin is one of our flat JSON log objects.
 *
 *   jsonlines COMPONENT[,COMPONENT...] < log
 * Each line must be a JSON object whose values are strings, integers, true, false or
 * null, whose first keys are ts, level, component, msg in that order, with ts like
 * 2026-12-03T18:00:00.123Z, level one of debug/info/warn/error and component one of the
 * COMPONENTs.
 * Exits 0 when every line passes and there was at least one; else prints the first bad
 * line with the reason and exits 1.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct cursor {
    const char *p;
    const char *why;
};

static void ws(struct cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t')
        c->p++;
}

/* A JSON string into out (escapes kept as written; enough for our comparisons). */
static int string(struct cursor *c, char *out, size_t cap)
{
    size_t n = 0;

    if (*c->p != '"') {
        c->why = "expected a string";
        return -1;
    }
    c->p++;
    while (*c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;

        if (ch == '\0' || ch < 0x20) {
            c->why = "unterminated string or raw control character";
            return -1;
        }
        if (ch == '\\') {
            c->p++;
            if (*c->p == 'u') {
                int i;

                for (i = 1; i <= 4; i++) {
                    if (!isxdigit((unsigned char)c->p[i])) {
                        c->why = "bad \\u escape";
                        return -1;
                    }
                }
                c->p += 4;
            } else if (strchr("\"\\/bfnrt", *c->p) == NULL || *c->p == '\0') {
                c->why = "bad escape";
                return -1;
            }
        }
        if (n + 1 < cap)
            out[n++] = *c->p;
        c->p++;
    }
    c->p++;
    out[n] = '\0';
    return 0;
}

static int value(struct cursor *c, char *out, size_t cap)
{
    out[0] = '\0';
    if (*c->p == '"')
        return string(c, out, cap);
    if (strncmp(c->p, "true", 4) == 0 || strncmp(c->p, "null", 4) == 0) {
        c->p += 4;
        return 0;
    }
    if (strncmp(c->p, "false", 5) == 0) {
        c->p += 5;
        return 0;
    }
    if (*c->p == '-')
        c->p++;
    if (!isdigit((unsigned char)*c->p)) {
        c->why = "expected a value";
        return -1;
    }
    while (isdigit((unsigned char)*c->p))
        c->p++;
    return 0;
}

static int ts_ok(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    size_t i;

    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    }
    return 1;
}

/* Is name one of the comma-separated list? */
static int component_listed(const char *name, const char *list)
{
    size_t n = strlen(name);

    for (const char *p = list; *p != '\0';) {
        size_t k = strcspn(p, ",");

        if (k == n && strncmp(p, name, n) == 0)
            return 1;
        p += k;
        if (*p == ',')
            p++;
    }
    return 0;
}

static const char *check(const char *line, const char *component)
{
    static const char *const first[] = { "ts", "level", "component", "msg" };
    struct cursor c = { line, NULL };
    char key[256], val[4096];
    int i = 0;

    if (*c.p++ != '{')
        return "not an object";
    ws(&c);
    for (;;) {
        if (string(&c, key, sizeof key) != 0)
            return c.why;
        ws(&c);
        if (*c.p++ != ':')
            return "expected ':'";
        ws(&c);
        if (value(&c, val, sizeof val) != 0)
            return c.why;
        if (i < 4 && strcmp(key, first[i]) != 0)
            return "the first keys are not ts, level, component, msg";
        if (i == 0 && !ts_ok(val))
            return "ts is not like 2026-12-03T18:00:00.123Z";
        if (i == 1 && strcmp(val, "debug") != 0 && strcmp(val, "info") != 0 &&
            strcmp(val, "warn") != 0 && strcmp(val, "error") != 0)
            return "unknown level";
        if (i == 2 && !component_listed(val, component))
            return "wrong component";
        i++;
        ws(&c);
        if (*c.p == '}')
            break;
        if (*c.p++ != ',')
            return "expected ',' or '}'";
        ws(&c);
    }
    c.p++;
    if (*c.p != '\0')
        return "text after the object";
    return i >= 4 ? NULL : "fewer than four keys";
}

int main(int argc, char **argv)
{
    char line[8192];
    int n = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: jsonlines COMPONENT < log\n");
        return 2;
    }
    while (fgets(line, sizeof line, stdin) != NULL) {
        const char *why;
        size_t len = strlen(line);

        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        why = check(line, argv[1]);
        if (why != NULL) {
            printf("bad log line (%s): %s\n", why, line);
            return 1;
        }
        n++;
    }
    if (n == 0) {
        printf("no log lines\n");
        return 1;
    }
    return 0;
}
