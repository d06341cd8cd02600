/* luaspec.c: the graph a Lua model spec lowers into (ops, attributes, weight
 * layouts, names, inputs and outputs), determinism, and the place every
 * kind of error names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ir.h"
#include "luaspec.h"

static char dir[256];
static char path[512];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/shiftc-luaspec-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to DIR/name and returns its path. */
static const char *spec(const char *name, const char *text)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static Graph *load_ok(const char *name, const char *text)
{
    char err[1024] = "";
    Graph *g = luaspec_load(spec(name, text), err, sizeof err);
    if (!g)
        fail_msg("%s: %s", name, err);
    return g;
}

/* Loads text, expects an error containing want. */
static void load_fails(const char *name, const char *text, const char *want)
{
    char err[1024] = "";
    Graph *g = luaspec_load(spec(name, text), err, sizeof err);
    if (g) {
        ir_graph_free(g);
        fail_msg("%s: loaded, expected an error with '%s'", name, want);
    }
    if (!strstr(err, want))
        fail_msg("%s: error\n  %s\ndoes not contain\n  %s", name, err, want);
}

static const Tensor *tensor_named(const Graph *g, const char *name)
{
    int t = ir_find_tensor(g, name);
    if (t < 0)
        fail_msg("no tensor '%s'", name);
    return &g->tensors[t];
}

static const char *const residual =
    "local w = {}\n"
    "for o = 1, 2 do w[o] = {} for i = 1, 2 do w[o][i] = {{o, i, 0}, {0, 1, 0}, {0, 0, -o}} end end\n"
    "return model {\n"
    "  name = 'res',\n"
    "  input = { name = 'x', shape = {1, 2, 6, 6} },\n"
    "  layers = {\n"
    "    conv2d { name = 'c1', weights = w, bias = {0.5, -0.5}, pad = 'same', activation = 'relu6' },\n"
    "    { conv2d { name = 'c2', weights = w, stride = {1, 1}, pad = {1, 1, 1, 1} } },\n"
    "    add { name = 's', inputs = {'c2', 'x'}, activation = 'relu' },\n"
    "    maxpool { kernel = 2 },\n"
    "    avgpool { kernel = {3, 1}, stride = 1, pad = {1, 0}, count_include_pad = true },\n"
    "    global_avgpool {},\n"
    "    flatten {},\n"
    "    dense { name = 'fc', layout = 'kn', weights = {{1, 2, 3}, {4, 5, 6}} },\n"
    "    softmax { name = 'p' },\n"
    "  },\n"
    "}\n";

static void test_residual_graph(void **state)
{
    (void)state;
    Graph *g = load_ok("res.lua", residual);
    assert_string_equal(g->name, "res");
    assert_int_equal(g->ninputs, 1);
    assert_string_equal(g->tensors[g->inputs[0]].name, "x");
    assert_int_equal(g->noutputs, 1);
    assert_string_equal(g->tensors[g->outputs[0]].name, "p");

    static const Op ops[] = {OP_CONV,    OP_CLIP,          OP_CONV,    OP_ADD,
                             OP_RELU,    OP_MAXPOOL,       OP_AVGPOOL, OP_GLOBALAVGPOOL,
                             OP_RESHAPE, OP_DENSE,         OP_SOFTMAX};
    assert_int_equal(g->nnodes, (int)(sizeof ops / sizeof ops[0]));
    for (int i = 0; i < g->nnodes; i++)
        assert_int_equal(g->nodes[i].op, ops[i]);

    /* conv: weights [OC, IC, KH, KW] as written, "same" resolved to pads */
    const Node *c1 = &g->nodes[0];
    assert_string_equal(c1->name, "c1");
    assert_int_equal(c1->src_index, 1);
    const Tensor *w = &g->tensors[c1->in[1]];
    assert_int_equal(w->rank, 4);
    assert_int_equal(w->dims[0], 2);
    assert_int_equal(w->dims[3], 3);
    assert_true(w->data[0] == 1.0f && w->data[1] == 1.0f && w->data[8] == -1.0f);
    assert_int_equal(c1->a.pads[0], 1);
    assert_int_equal(c1->a.pads[3], 1);
    assert_true(g->tensors[c1->in[2]].data[1] == -0.5f);
    /* the activation field: pre-activation tensor, then the layer's name */
    assert_string_equal(g->tensors[c1->out[0]].name, "c1.preact");
    assert_true(g->nodes[1].a.clip_min == 0.0f && g->nodes[1].a.clip_max == 6.0f);
    assert_string_equal(g->tensors[g->nodes[1].out[0]].name, "c1");
    /* each reader of a weight has its own copy */
    assert_int_not_equal(g->nodes[0].in[1], g->nodes[2].in[1]);
    assert_int_equal(g->nodes[2].in[2], -1);
    /* add reads c2 and the model input */
    assert_int_equal(g->nodes[3].in[1], g->inputs[0]);
    /* pools: stride defaults to the kernel */
    assert_int_equal(g->nodes[5].a.strides[0], 2);
    assert_int_equal(g->nodes[6].a.strides[0], 1);
    assert_int_equal(g->nodes[6].a.pads[0], 1);
    assert_int_equal(g->nodes[6].a.pads[1], 0);
    assert_int_equal(g->nodes[6].a.count_include_pad, 1);
    /* dense "kn" [2, 3] becomes [N = 3, K = 2] */
    const Tensor *fw = tensor_named(g, "fc.weight");
    assert_int_equal(fw->dims[0], 3);
    assert_int_equal(fw->dims[1], 2);
    static const float want[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; i++)
        assert_true(fw->data[i] == want[i]);
    /* shapes were inferred */
    const Tensor *p = tensor_named(g, "p");
    assert_int_equal(p->rank, 2);
    assert_int_equal(p->dims[1], 3);
    ir_graph_free(g);
}

static void dump_line(void *ctx, const char *line)
{
    FILE *f = ctx;
    fprintf(f, "%s\n", line);
}

static void test_deterministic(void **state)
{
    (void)state;
    char *text[2];
    for (int k = 0; k < 2; k++) {
        Graph *g = load_ok("det.lua", residual);
        size_t len;
        FILE *f = open_memstream(&text[k], &len);
        ir_dump(g, dump_line, f);
        fclose(f);
        ir_graph_free(g);
    }
    assert_string_equal(text[0], text[1]);
    free(text[0]);
    free(text[1]);
}

static void test_defaults_and_names(void **state)
{
    (void)state;
    /* default model name from the file, default input name, made-up layer
       names that avoid the file's own, batchnorm defaults, outputs */
    Graph *g = load_ok("My-Net.v2.lua",
                       "return model {\n"
                       "  input = { shape = {1, 2, 3, 3} },\n"
                       "  layers = {\n"
                       "    batchnorm { mean = {0, 1}, var = {1, 4}, epsilon = 0 },\n"
                       "    relu { name = 'relu_2' },\n"
                       "    relu(),\n"
                       "    sigmoid {},\n"
                       "  },\n"
                       "  outputs = {'relu_2', 'sigmoid_4'},\n"
                       "}\n");
    assert_string_equal(g->name, "my_net_v2");
    assert_string_equal(g->tensors[g->inputs[0]].name, "input");
    assert_int_equal(g->nodes[0].op, OP_BATCHNORM);
    assert_int_equal(g->nodes[0].nin, 5);
    assert_true(g->tensors[g->nodes[0].in[1]].data[1] == 1.0f); /* scale */
    assert_true(g->tensors[g->nodes[0].in[2]].data[1] == 0.0f); /* bias */
    assert_true(g->nodes[0].a.epsilon == 0.0f);
    assert_string_equal(g->tensors[g->nodes[2].out[0]].name, "relu_3");
    assert_int_equal(g->noutputs, 2);
    assert_string_equal(g->tensors[g->outputs[0]].name, "relu_2");
    assert_string_equal(g->tensors[g->outputs[1]].name, "sigmoid_4");
    ir_graph_free(g);
}

static void test_errors(void **state)
{
    (void)state;
    load_fails("e1.lua", "return model {\n input = { shape = {1, 4} },\n layers = {\n"
                         "  dense { units = 3, weights = {{1, 2, 3, 4}} } } }\n",
               "e1.lua:4: dense: weights [1, 4] does not match units 3");
    load_fails("e2.lua", "return model { input = { shape = {1, 4} },\n layers = {\n"
                         "  dense { unit = 1, weights = {{1, 2, 3, 4}} } } }\n",
               "e2.lua:3: dense: unknown field 'unit' (did you mean 'units'?)");
    load_fails("e3.lua", "return model { input = { shape = {1, 4} },\n layers = {\n"
                         "  relu {},\n  dense { weights = {{1, 2}} } } }\n",
               "e3.lua:4: layer 2 'dense_2' (dense): input");
    load_fails("e4.lua", "return 42\n", "e4.lua: the file must return a model");
    load_fails("e5.lua", "return model { input = { shape = {1, 4} }, layers = { relu { input = 'y' } } }\n",
               "e5.lua:1: layer 1 'relu_1' (relu): unknown input 'y'");
    load_fails("e6.lua", "local x = 1\nreturn model { input = { shape = {1, 4} }, layers = { relu { alpha = 1 } } }\n",
               "e6.lua:2: relu: unknown field 'alpha'; known fields: name, input, inputs");
    load_fails("e7.lua", "return model { input = { shape = {1, 4} }, layers = { dense { weights = npy 'nope.npy' } } }\n",
               "nope.npy");
    load_fails("e8.lua", "return model { input = { shape = {1, 4} }, layers = { dense { weights = {{1, 1e39}} } } }\n",
               "value[1][2] is not a finite float32 number");
    load_fails("e9.lua", "return model { input = { shape = {1, 4} }, layers = { relu { name = 'x' }, relu { name = 'x' } } }\n",
               "duplicate name");
    load_fails("e10.lua", "return model { input = { name = 'x', shape = {1, 4} }, layers = { relu { name = 'x' } } }\n",
               "the name is also the model input's");
    load_fails("e11.lua", "return model { input = { shape = {1, 4} }, layers = { tensor { shape = {2}, data = {1, 2, 3} } } }\n",
               "e11.lua:1: tensor: data has 3 values, shape [2] needs 2");
    load_fails("e12.lua", "local t = {}\nt[1] = t\nreturn model { input = { shape = {1, 4} }, layers = t }\n",
               "nested more than");
    load_fails("e13.lua", "return model { input = { shape = {1, 4} }, layers = { relu {} }, outputs = {'relu_1', 'relu_1'} }\n",
               "listed twice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_residual_graph),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_defaults_and_names),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
