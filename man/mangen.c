/* mangen: writes the parts of rnnjamd(8) and rnnjamd.conf(5) that come from
 * rnnjamd's option table, so the pages cannot drift from the code.
 *
 * usage: mangen TEMPLATE CONF >PAGE
 *
 * Copies TEMPLATE (roff) to stdout and replaces two marker lines:
 *   @RNJ_FLAGS@  every option as a flag (phrase_gap -> --phrase-gap), with
 *                its argument and one-line help, as rnnjamd --help shows it;
 *   @RNJ_KEYS@   every key by section, with its argument, its help, its
 *                default and the comment above it in CONF.
 * CONF is the shipped rnnjamd.conf: it shows every key as "; key = value"
 * with its default (tests/test-conf.c checks both), after the comment that
 * explains it.  So a new key in the table appears in both pages with no
 * edit to them; a key CONF does not show yet is still listed, with a
 * warning on stderr and no default (test-conf fails on it).
 *
 * A build tool, run on the build machine; it exits 1 with a one-line
 * message when a file cannot be read or written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnjam/conf.h"

#define MAX_LINE 1024
#define MAX_KEYS 256
#define MAX_COMMENT 4096

/* What CONF says about one key. */
typedef struct {
  char key[64];
  char value[MAX_LINE];
  char comment[MAX_COMMENT]; /* the '#' lines above it, joined by spaces */
} conf_key_t;

static conf_key_t keys[MAX_KEYS];
static size_t nkeys;

static void trim_end(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
               s[n - 1] == '\t'))
    s[--n] = '\0';
}

/* Reads "; key = value" lines and the comment block just above each.  A
 * section line or a blank line ends a comment block, so the file's
 * header and notes about a whole section stay out of the keys. */
static int read_conf(const char *path) {
  FILE *f = fopen(path, "r");
  char line[MAX_LINE];
  char comment[MAX_COMMENT] = "";
  if (!f) {
    perror(path);
    return -1;
  }
  while (fgets(line, sizeof line, f)) {
    char *eq;
    trim_end(line);
    if (line[0] == '#') {
      const char *t = line + 1;
      size_t n = strlen(comment);
      while (*t == ' ')
        t++;
      snprintf(comment + n, sizeof comment - n, "%s%s", n ? " " : "", t);
      continue;
    }
    if (strncmp(line, "; ", 2) == 0 && (eq = strchr(line, '=')) != NULL &&
        nkeys < MAX_KEYS) {
      conf_key_t *k = &keys[nkeys++];
      char *end = eq;
      const char *v = eq + 1;
      while (end > line + 2 && end[-1] == ' ')
        end--;
      snprintf(k->key, sizeof k->key, "%.*s", (int)(end - line - 2),
               line + 2);
      while (*v == ' ')
        v++;
      snprintf(k->value, sizeof k->value, "%s", v);
      snprintf(k->comment, sizeof k->comment, "%s", comment);
    }
    comment[0] = '\0';
  }
  fclose(f);
  return 0;
}

static const conf_key_t *conf_key(const char *key) {
  size_t i;
  for (i = 0; i < nkeys; i++)
    if (strcmp(keys[i].key, key) == 0)
      return &keys[i];
  return NULL;
}

/* Text as roff: '\' printed as itself, '-' as a minus (so options can be
 * copied from the rendered page), and no line starting with a control
 * character ('.' or '\''), which the text never does mid-line here. */
static void put_text(const char *s) {
  if (*s == '.' || *s == '\'')
    fputs("\\&", stdout);
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\e", stdout);
    else if (*s == '-')
      fputs("\\-", stdout);
    else
      putchar(*s);
  }
}

/* "phrase_gap" -> "\-\-phrase\-gap" */
static void put_flag(const char *key) {
  fputs("\\-\\-", stdout);
  for (; *key; key++) {
    if (*key == '_' || *key == '-')
      fputs("\\-", stdout);
    else
      putchar(*key);
  }
}

/* Text ending with a full stop. */
static void put_stop(const char *s) {
  size_t n = strlen(s);
  put_text(s);
  if (n && s[n - 1] != '.')
    putchar('.');
}

/* The table's help as a sentence: a capital first letter (the comments
 * of the file keep theirs: they start with a value, like "stream:"). */
static void put_sentence(const char *s) {
  char first[2] = {s[0], '\0'};
  if (!s[0])
    return;
  if (first[0] >= 'a' && first[0] <= 'z')
    first[0] = (char)(first[0] - 'a' + 'A');
  put_text(first);
  put_stop(s + 1);
}

static void put_flags(void) {
  size_t n;
  size_t i;
  const rnj_conf_option_t *o = rnj_conf_options(&n);
  for (i = 0; i < n; i++) {
    puts(".TP");
    fputs("\\fB", stdout);
    put_flag(o[i].key);
    fputs("=\\fI", stdout);
    put_text(o[i].arg);
    puts("\\fR");
    put_sentence(o[i].help);
    fputs("\nKey \\fB", stdout);
    put_text(o[i].key);
    fputs("\\fR in \\fB[", stdout);
    put_text(o[i].section);
    puts("]\\fR.");
  }
}

static void put_keys(void) {
  size_t n;
  size_t i;
  const char *sec = "";
  const rnj_conf_option_t *o = rnj_conf_options(&n);
  for (i = 0; i < n; i++) {
    const conf_key_t *k = conf_key(o[i].key);
    if (strcmp(sec, o[i].section) != 0) {
      sec = o[i].section;
      fputs(".SS [", stdout);
      put_text(sec);
      puts("]");
    }
    puts(".TP");
    fputs("\\fB", stdout);
    put_text(o[i].key);
    fputs("\\fR = \\fI", stdout);
    put_text(o[i].arg);
    puts("\\fR");
    put_sentence(o[i].help);
    if (!k) {
      putchar('\n');
      fprintf(stderr, "mangen: warning: key '%s' has no '; %s = ...' line "
              "in the configuration file: no default shown\n", o[i].key,
              o[i].key);
      continue;
    }
    if (k->value[0]) {
      fputs("\nDefault: \\fB", stdout);
      put_text(k->value);
      puts("\\fR.");
    } else {
      puts("\nDefault: empty.");
    }
    /* The file's comment says more, in its own paragraph. */
    if (k->comment[0]) {
      puts(".IP");
      put_stop(k->comment);
      putchar('\n');
    }
  }
}

int main(int argc, char **argv) {
  FILE *t;
  char line[MAX_LINE];
  if (argc != 3) {
    fprintf(stderr, "usage: mangen TEMPLATE CONF >PAGE\n");
    return 2;
  }
  if (read_conf(argv[2]) < 0)
    return 1;
  t = fopen(argv[1], "r");
  if (!t) {
    perror(argv[1]);
    return 1;
  }
  while (fgets(line, sizeof line, t)) {
    if (strcmp(line, "@RNJ_FLAGS@\n") == 0)
      put_flags();
    else if (strcmp(line, "@RNJ_KEYS@\n") == 0)
      put_keys();
    else
      fputs(line, stdout);
  }
  fclose(t);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("mangen: stdout");
    return 1;
  }
  return 0;
}
