/* Unit tests for json.c and buf.c: round trips and hostile input. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static int
parses(const char *s)
{
	struct json_value *v;
	char err[128];
	int r = json_parse(s, strlen(s), &v, err, sizeof err);

	json_free(v);
	return r == 0;
}

static void
test_writer(void)
{
	struct buf b = BUF_INIT;
	struct json_writer w;

	json_writer_init(&w, &b, 0);
	json_begin_object(&w);
	json_kv_string(&w, "name", "a\"b\\c\n\x01");
	json_kv_int(&w, "n", -42);
	json_key(&w, "list");
	json_begin_array(&w);
	json_int(&w, 1);
	json_bool(&w, 1);
	json_null(&w);
	json_begin_object(&w);
	json_end_object(&w);
	json_end_array(&w);
	json_end_object(&w);
	is_str(b.data,
	    "{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":-42,"
	    "\"list\":[1,true,null,{}]}", "compact writer output");
	buf_release(&b);

	json_writer_init(&w, &b, 1);
	json_begin_object(&w);
	json_kv_int(&w, "a", 1);
	json_key(&w, "b");
	json_begin_array(&w);
	json_end_array(&w);
	json_end_object(&w);
	is_str(b.data, "{\n  \"a\": 1,\n  \"b\": []\n}\n", "pretty writer");
	buf_release(&b);
}

static void
test_parser(void)
{
	const char *s = "{\"a\": [1, 2.5, \"x\\u00e9\\ud83d\\ude00\"],"
	    " \"b\": {\"c\": null, \"d\": true}, \"big\": 123456789012}";
	struct json_value *v;
	const struct json_value *a;
	char err[128];
	int64_t n;

	ok(json_parse(s, strlen(s), &v, err, sizeof err) == 0, "parse ok");
	a = json_get_array(v, "a");
	ok(a != NULL && a->n == 3, "array of 3");
	ok(json_as_int(a->items[0], &n) == 0 && n == 1, "int item");
	ok(json_as_int(a->items[1], &n) == -1, "2.5 is not an int");
	is_str(a->items[2]->str, "x\xc3\xa9\xf0\x9f\x98\x80", "utf-8 escapes");
	ok(json_get(json_get_object(v, "b"), "c")->type == JSON_NULL, "null");
	ok(json_get_int(v, "big", &n) == 0 && n == 123456789012LL, "int64");
	ok(json_get_string(v, "a") == NULL, "type-checked lookup");
	json_free(v);

	ok(!parses(""), "empty input rejected");
	ok(!parses("{\"a\":1,\"a\":2}"), "duplicate key rejected");
	ok(!parses("[1,]"), "trailing comma rejected");
	ok(!parses("\"abc"), "unterminated string rejected");
	ok(!parses("\"\\ud800\""), "lone surrogate rejected");
	ok(!parses("01"), "leading zero rejected");
	ok(!parses("[1] x"), "trailing data rejected");
	ok(!parses("\"a\tb\""), "raw control char rejected");
	ok(parses("  [ ]  "), "whitespace around empty array");
}

static void
test_depth(void)
{
	char deep[400];
	struct json_value *v;
	char err[128];

	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	ok(json_parse(deep, sizeof deep, &v, err, sizeof err) == -1,
	    "200 levels rejected");
	ok(strstr(err, "too deep") != NULL, "with a reason: %s", err);
	memset(deep, '[', 10);
	memset(deep + 10, ']', 10);
	ok(json_parse(deep, 20, &v, err, sizeof err) == 0, "10 levels fine");
	json_free(v);
}

static void
test_buf(void)
{
	struct buf b = BUF_INIT;
	char *p;
	size_t len;
	int i;

	ok(b.data != NULL && b.data[0] == '\0', "empty buf is a C string");
	for (i = 0; i < 1000; i++)
		buf_addf(&b, "%d,", i);
	ok(b.len == strlen(b.data), "len tracks contents");
	ok(strncmp(b.data, "0,1,2,", 6) == 0, "contents kept across growth");
	p = buf_detach(&b, &len);
	ok(b.len == 0 && b.data[0] == '\0', "detach leaves an empty buf");
	ok(len == strlen(p), "detach hands over the length");
	free(p);
	p = buf_detach(&b, NULL);
	ok(p != NULL && *p == '\0', "detach of empty buf is a fresh string");
	free(p);
}

int
main(void)
{
	test_writer();
	test_parser();
	test_depth();
	test_buf();
	return done_testing();
}
