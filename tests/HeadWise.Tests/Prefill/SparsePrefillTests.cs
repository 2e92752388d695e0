using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Prefill;
using HeadWise.Tests.Heads;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Tests.Prefill;

/// <summary>Issue 19, acceptance 4 and the sparse path's arithmetic: ProxyAttn and DHSA prefill.</summary>
public class SparsePrefillTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "llama", "proxyattn" }, { "llama", "dhsa" }, { "gpt2", "proxyattn" }, { "gpt2", "dhsa" }, { "qwen3", "proxyattn" },
    };

    private static ISparsePrefill KeepAll(string method) => method == "proxyattn" ? new ProxyAttn(Block: 8, Pool: 2, Probe: 4, Gamma: 1) : new Dhsa(Chunk: 8, Keep: 1);
    private static ISparsePrefill Sparse(string method) => method == "proxyattn" ? new ProxyAttn(Block: 8, Pool: 2, Probe: 4, Gamma: 0.3) : new Dhsa(Chunk: 8, Keep: 0.2);

    /// <summary>Logits [T, V] of tokens fed in pieces of the given sizes through <paramref name="cache"/>.</summary>
    private static Tensor Logits(Transformer model, Tensor tokens, IKvCache cache, params int[] pieces)
    {
        var parts = new List<Tensor>();
        long at = 0;
        foreach (var n in pieces)
        {
            parts.Add(model.Forward(tokens.narrow(1, at, n), cache)[0]);
            at += n;
        }
        return torch.cat(parts, 0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Budgets_that_keep_every_block_give_dense_logits(string family, string method)
    {
        using var model = TinyModels.Build(family);
        var tokens = TinyModels.Tokens(60, seed: 9);
        using var dense = new FullKvCache(model.Spec);
        var expected = Logits(model, tokens, dense, 60);
        using var dense2 = new FullKvCache(model.Spec);
        var floor = (Logits(model, tokens, dense2, 27, 33) - expected).abs().max().item<float>();
        foreach (var pieces in new[] { new[] { 60 }, new[] { 27, 33 } })
        {
            var stats = new PrefillStats();
            using var sparse = new SparsePrefillCache(model.Spec, KeepAll(method), stats);
            var got = Logits(model, tokens, sparse, pieces);
            // 1e-5 absolute; the tiny gpt2's logits reach 35, where float32 steps are 4e-6 and dense attention computed in two
            // calls instead of one already moves them by 7.6e-6: there 1e-6 of the logit (6e-7 measured).
            float diff = (got - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
            bool close = family == "gpt2" ? diff <= 1e-6 * scale : diff <= 1e-5;
            Assert.True(close, $"{family} {method} pieces {string.Join('+', pieces)}: max diff {diff} of logits up to {scale}; dense in two calls differs from dense in one by {floor}");
            Assert.Equal(1.0, stats.Share);
            Assert.True(stats.Causal > 0);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Small_budgets_skip_blocks_and_change_the_logits(string family, string method)
    {
        using var model = TinyModels.Build(family);
        var tokens = TinyModels.Tokens(60, seed: 9);
        using var dense = new FullKvCache(model.Spec);
        var expected = Logits(model, tokens, dense, 60);
        var stats = new PrefillStats();
        using var sparse = new SparsePrefillCache(model.Spec, Sparse(method), stats);
        var got = Logits(model, tokens, sparse, 60);
        Assert.InRange(stats.Share, 0.05, 0.95);
        Assert.False(got.allclose(expected, rtol: 0, atol: 1e-5));
        // The first block's queries see only the first block, which is always kept: their logits stay exact (to 1e-5, or
        // 1e-6 of the logit on the tiny gpt2, as above: the block kernel sums in another order than the fused one).
        float diff = (got.narrow(0, 0, 8) - expected.narrow(0, 0, 8)).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        Assert.True(family == "gpt2" ? diff <= 1e-6 * scale : diff <= 1e-5, $"first block: max diff {diff} of logits up to {scale}");
    }

    [Fact]
    public void Block_sparse_attention_equals_softmax_over_exactly_the_selected_keys()
    {
        Runtime.Torch.EnsureStarted();
        var gen = new torch.Generator(5);
        long h = 4, kvh = 2, s = 24, t = 10, d = 8;
        var q = torch.randn([1, h, t, d], generator: gen);
        var k = torch.randn([1, kvh, s, d], generator: gen);
        var v = torch.randn([1, kvh, s, d], generator: gen);
        long[] bounds = [0, 5, 9, 14, 20, 24];               // the queries (14..23) fill the last two segments
        var rng = new Random(2);
        var sel = new bool[h * 2 * 5];
        for (int i = 0; i < sel.Length; i++) sel[i] = rng.Next(2) == 1;
        for (int head = 0; head < h; head++) { sel[(head * 2 + 0) * 5 + 3] = true; sel[(head * 2 + 1) * 5 + 4] = true; }
        var got = BlockSparseAttention.Attend(q, k, v, bounds, torch.tensor(sel, [h, 2, 5]));

        // Reference: explicit softmax with every unselected or future key masked, per head (KV head = head / 2).
        for (int head = 0; head < h; head++)
            for (int i = 0; i < t; i++)
            {
                long pos = s - t + i;
                int seg = pos < 20 ? 3 : 4;
                var allowed = Enumerable.Range(0, (int)s).Where(j => j <= pos && sel[(head * 2 + seg - 3) * 5 + Array.FindLastIndex(bounds, b => b <= j)]).Select(j => (long)j).ToArray();
                var keys = k[0, head / 2].index_select(0, torch.tensor(allowed));
                var w = F.softmax(torch.matmul(keys, q[0, head, i]) / Math.Sqrt(d), 0);
                var want = torch.matmul(w, v[0, head / 2].index_select(0, torch.tensor(allowed)));
                Assert.True(got[0, head, i].allclose(want, rtol: 0, atol: 1e-5), $"head {head} query {i}");
            }
    }

    [Theory]
    [InlineData(128, 700, 64)] // blocks of whole 16-key panels and score tiles, the last block partial
    [InlineData(8, 93, 24)]    // blocks shorter than a panel, keys not a multiple of 16, a head width of 1.5 panels
    [InlineData(200, 700, 16)] // blocks longer than a score tile and not on panel edges
    public void Proxy_score_kernel_equals_softmax_summed_per_block(int block, int keys, int d)
    {
        Runtime.Torch.EnsureStarted();
        // Rows at scattered positions (the last sees every key), two proxies, three probes per query block, logits spread
        // enough that blocks differ; reference: libtorch's product, masked softmax, sums per block and over each block's probes.
        var gen = new torch.Generator(5);
        int groups = 2, probes = 3, rowBlocks = 4, rows = probes * rowBlocks, n = (keys + block - 1) / block;
        var q = torch.randn([groups, rows, d], generator: gen).mul(3);
        var k = torch.randn([groups, keys, d], generator: gen);
        var rng = new Random(6);
        long[] positions = [.. Enumerable.Range(0, rows).Select(r => r == rows - 1 ? keys - 1 : (long)rng.Next(keys))];
        float scale = 1f / MathF.Sqrt(d);
        var mass = ProxyScoreKernel.BlockMass(q, k, positions, probes, block, n, scale);

        var later = torch.arange(keys).unsqueeze(0).gt(torch.tensor(positions).unsqueeze(1));                    // [rows, keys]
        var probs = F.softmax(torch.matmul(q, k.transpose(1, 2)).mul(scale).masked_fill(later, double.NegativeInfinity), -1);
        var perBlock = F.pad(probs, [0, n * block - keys]).view(groups, rows, n, block).sum([3]);
        var want = perBlock.view(groups, rowBlocks, probes, n).sum([2]);
        var diff = (mass - want).abs().max().item<float>();
        Assert.True(diff <= 1e-5, $"max diff {diff}");
    }

    [Theory]
    [InlineData(64, 1)]   // whole 16-wide panels, grouped-query heads
    [InlineData(24, 2)]   // one panel and 8 columns read in place
    public void Block_sparse_kernel_equals_softmax_over_the_selected_keys_across_tiles(int d, int group)
    {
        Runtime.Torch.EnsureStarted();
        // Segments longer than a key tile (128) and a query tile (128), shorter ones, and queries that start inside a
        // segment: the tiles, the causal edge inside the own segment and the padded rows all take part.
        var gen = new torch.Generator(11);
        long h = 4, kvh = h / group, s = 700, t = 560;
        var q = torch.randn([1, h, t, d], generator: gen);
        var k = torch.randn([1, kvh, s, d], generator: gen);
        var v = torch.randn([1, kvh, s, d], generator: gen);
        long[] bounds = [0, 37, 300, 333, 470, 700]; // queries 140..699: inside segment 1, then segments 2, 3, 4
        int n = bounds.Length - 1, nq = 4;
        var rng = new Random(4);
        var sel = new bool[h * nq * n];
        for (int i = 0; i < sel.Length; i++) sel[i] = rng.Next(2) == 1;
        var got = BlockSparseAttention.Attend(q, k, v, bounds, torch.tensor(sel, [h, nq, n]));

        // Reference: every key that is selected (or in the query's own segment) and not after the query, one softmax.
        var pos = torch.arange(s - t, s).unsqueeze(1);                       // [t, 1]
        var key = torch.arange(s).unsqueeze(0);                              // [1, s]
        var segOf = torch.tensor(Enumerable.Range(0, (int)s).Select(j => (long)Array.FindLastIndex(bounds, b => b <= j)).ToArray());
        var querySeg = segOf.narrow(0, s - t, t);                            // each query's segment
        for (int head = 0; head < h; head++)
        {
            var chosen = torch.tensor(sel, [h, nq, n])[head];                // [nq, n]
            var rowSel = chosen.index_select(0, querySeg.sub(n - nq));       // [t, n]
            var allowed = rowSel.gather(1, segOf.unsqueeze(0).expand(t, s)).logical_or(segOf.unsqueeze(0).eq(querySeg.unsqueeze(1))).logical_and(key.le(pos));
            var scores = torch.matmul(q[0, head], k[0, head / group].t()).div(Math.Sqrt(d)).masked_fill(allowed.logical_not(), double.NegativeInfinity);
            var want = torch.matmul(torch.nn.functional.softmax(scores, -1), v[0, head / group]);
            var diff = (got[0, head] - want).abs().max().item<float>();
            Assert.True(diff <= 1e-5, $"head {head}: max diff {diff}");
        }
    }

    [Theory]
    [InlineData("proxyattn", "gamma=0")]
    [InlineData("proxyattn", "gamma=1.5")]
    [InlineData("proxyattn", "block=0")]
    [InlineData("proxyattn", "blocks=-1")]
    [InlineData("proxyattn", "blocks=1.5")]
    [InlineData("proxyattn", "local=-2")]
    [InlineData("dhsa", "keep=-0.1")]
    [InlineData("dhsa", "chunk=1")]
    [InlineData("dhsa", "window=3")]
    public void Budgets_out_of_range_are_refused(string method, string parameters) =>
        Assert.Throws<HeadWiseException>(() => SparsePrefills.Create(method, parameters));

    [Fact]
    public void An_unknown_method_is_refused() =>
        Assert.Contains("known: proxyattn, dhsa", Assert.Throws<HeadWiseException>(() => SparsePrefills.Create("minference", null)).Message);
}
