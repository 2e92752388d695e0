using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.KvCache;

/// <summary>LongHeads: per-head chunk selection over the full cache, positions remapped into the window.</summary>
public class LongHeadsTests
{
    private const int D = 4, W = 4;

    /// <summary>Two query heads sharing one KV head (GQA), head size 4, chunks of 4, a window of 4 chunks (16 tokens).</summary>
    private static ModelSpec Spec(PositionKind positions) => new()
    {
        Architecture = "llama", Layers = 1, Dim = 2 * D, Heads = 2, KvHeads = 1, HeadDim = D, FfnDim = 8, VocabSize = 16,
        ContextLength = 16, Positions = positions,
    };

    private static Tensor Unit(int i) { var u = torch.zeros(D); u[i] = 1; return u; }

    /// <summary>
    /// 40 positions, u = e2 (RoPE's slow pair, so a chunk's rotated keys still point along u). Keys: 5u in chunk 3
    /// (12..15), -5u in chunk 6 (24..27), 0 elsewhere; values random. Head 0 asks with u, head 1 with -u. By
    /// construction head 0's representative scores are highest for chunk 3 and head 1's for chunk 6 (a chunk of equal
    /// keys has that key as its representative), so at position 39 (chunk 9) head 0 attends chunks 0, 3, 8, 9 and head
    /// 1 chunks 0, 6, 8, 9. Returns the last query's output [2, d], the keys/values at their raw positions and the queries.
    /// </summary>
    private static (Tensor Out, Tensor KRaw, Tensor V, Tensor QRaw) RunConstructed(ModelSpec spec, Rope? rope)
    {
        const int n = 40;
        var u = Unit(2);
        var kRaw = torch.zeros(1, 1, n, D);
        for (int p = 12; p < 16; p++) kRaw[0, 0, p] = u * 5;
        for (int p = 24; p < 28; p++) kRaw[0, 0, p] = u * -5;
        torch.manual_seed(3);
        var v = torch.randn(1, 1, n, D);
        var qRaw = torch.stack([u.expand(n, D), (-u).expand(n, D)]).unsqueeze(0); // [1, 2, n, d]
        var kAbs = rope is null ? kRaw : rope.Apply(kRaw, 0);
        var qAbs = rope is null ? qRaw : rope.Apply(qRaw, 0);
        using var cache = new LongHeadsKvCache(new LongHeadsPolicy(spec, W, 4 * W));
        using var scale = (1.0 / Math.Sqrt(D)).ToScalar();
        Tensor last = null!;
        // A prefill of 30 positions, then one at a time (the decode path).
        for (int start = 0; start < n;)
        {
            int t = start == 0 ? 30 : 1;
            var kernel = new AttentionKernel(spec, rope, scale, null, start);
            last = cache.Attend(0, qAbs.narrow(2, start, t), kAbs.narrow(2, start, t), v.narrow(2, start, t), kernel);
            cache.Advance(t);
            start += t;
        }
        return (last[0, .., -1], kRaw, v, qRaw);
    }

    private static long[] Chunks(params int[] c) => c.SelectMany(x => Enumerable.Range(x * W, W).Select(p => (long)p)).ToArray();

    [Fact]
    public void Each_head_attends_the_first_its_best_matching_and_the_local_chunks_without_positions()
    {
        var spec = Spec(PositionKind.Learned);
        var (output, kRaw, v, qRaw) = RunConstructed(spec, rope: null);
        // Expected by hand: softmax over the selected keys of q·k/sqrt(d), then the weighted values.
        long[][] kept = [Chunks(0, 3, 8, 9), Chunks(0, 6, 8, 9)];
        for (int h = 0; h < 2; h++)
        {
            var idx = torch.tensor(kept[h]);
            var k = kRaw[0, 0].index_select(0, idx);
            var w = torch.softmax(torch.matmul(k, qRaw[0, h, -1]) / Math.Sqrt(D), 0);
            var expected = torch.matmul(w, v[0, 0].index_select(0, idx));
            Assert.True(torch.allclose(output[h], expected, 1e-5, 1e-6), $"head {h}: {output[h].str()} vs {expected.str()}");
        }
    }

    [Fact]
    public void Selected_chunks_are_attended_at_positions_remapped_into_the_window()
    {
        var spec = Spec(PositionKind.Rope);
        using var rope = new Rope(spec, spec.ContextLength);
        var (output, kRaw, v, qRaw) = RunConstructed(spec, rope);
        // The same as full attention over a 16-token sequence made of the selected chunks in order, at positions 0..15
        // (the query at 15), which the model's own kernel computes.
        long[][] kept = [Chunks(0, 3, 8, 9), Chunks(0, 6, 8, 9)];
        using var scale = (1.0 / Math.Sqrt(D)).ToScalar();
        var kernel = new AttentionKernel(spec, rope, scale, null, 0);
        for (int h = 0; h < 2; h++)
        {
            var idx = torch.tensor(kept[h]);
            var k = rope.Apply(kRaw.index_select(2, idx), 0);
            var q = rope.Apply(qRaw.narrow(1, h, 1).narrow(2, 39, 1), 15).expand(1, 2, 1, D);
            var expected = kernel.Attend(0, q, k, v.index_select(2, idx))[0, 0, 0];
            Assert.True(torch.allclose(output[h], expected, 1e-5, 1e-5), $"head {h}: {output[h].str()} vs {expected.str()}");
        }
        // Without remapping (keys at their own positions 0..39) the output differs: the check can tell.
        var idx0 = torch.tensor(kept[0]);
        var far = kernel.Attend(0, rope.Apply(qRaw.narrow(1, 0, 1).narrow(2, 39, 1), 39).expand(1, 2, 1, D),
            rope.Apply(kRaw, 0).index_select(2, idx0), v.index_select(2, idx0))[0, 0, 0];
        Assert.False(torch.allclose(output[0], far, 1e-4, 1e-4));
    }

    [Fact]
    public void Selecting_every_chunk_equals_full_attention_on_a_gqa_model()
    {
        var (model, tokens) = FullCacheParity.RandomGqaModel(layers: 2, seed: 5, count: 150);
        using var _ = model;
        // Chunks of 16 in a window of 256: the 150 positions (10 chunks) fit, so every chunk is selected, at its own position.
        var policy = (LongHeadsPolicy)KvPolicies.Create("longheads", KvBudget.All, model.Spec, parameters: "chunk=16");
        using var longheads = new LongHeadsKvCache(policy) { AlwaysSelect = true };
        // Relative to the largest logit: the remapping rotates queries and keys once more in float32.
        FullCacheParity.AssertFollowsFull(model, tokens, [70, 41, 1, 1, 1, 20, .. Enumerable.Repeat(1, 12)], longheads);
    }

    [Fact]
    public void A_rotary_model_runs_past_its_context_only_under_longheads()
    {
        var path = RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir(), "random.gguf"), new RandomLlamaConfig(Layers: 2, Vocab: 300, Context: 128));
        using var model = LlamaCppParityTests.OpenGguf(path);
        var rng = new Random(6);
        var tokens = Enumerable.Range(0, 300).Select(_ => (long)rng.Next(3, 300)).ToArray();
        using var ids = torch.tensor(tokens, [1, 300]);
        using (var full = new FullKvCache(model.Spec))
            Assert.Contains("exceeds the model's limit of 128", Assert.Throws<HeadWiseException>(() => model.Forward(ids, full)).Message);
        var policy = KvPolicies.Create("longheads", KvBudget.All, model.Spec, parameters: "chunk=16");
        using var cache = (LongHeadsKvCache)policy.CreateCache(CompressMode.Context);
        using var logits = model.Forward(ids, cache);
        Assert.True(logits.isfinite().all().item<bool>());
        Assert.Equal(300, cache.Length);
        // Each head attends at most its window (8 chunks of 16) per query past it.
        Assert.True(cache.AttendedKeys < cache.AvailableKeys);
    }

    [Theory]
    [InlineData("window=4096", "window=4096 exceeds the model's trained context of 2048")]
    [InlineData("chunk=1024", "window=2048 holds 2 chunks of chunk=1024; it needs at least 4")]
    [InlineData("chunk=0", "chunk=0 must be >= 1")]
    [InlineData("window=x", "window=x is not an integer")]
    [InlineData("windw=3", "longheads has no parameter windw; valid keys: chunk=256")]
    public void Bad_parameters_are_one_clear_error(string parameters, string message)
    {
        var spec = new ModelSpec { Architecture = "llama", Layers = 1, Dim = 8, Heads = 2, KvHeads = 2, HeadDim = 4, FfnDim = 8, VocabSize = 16, ContextLength = 2048 };
        var e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("longheads", KvBudget.All, spec, parameters: parameters));
        Assert.Contains(message, e.Message);
    }
}
