using HeadWise.Models;
using HeadWise.Prefill;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Prefill;

/// <summary>Constructed inputs whose right selection holds by construction, one per method (and DHSA under RoPE).</summary>
public class SparsePrefillKnownAnswerTests
{
    private static readonly ModelSpec Spec = new()
    {
        Architecture = "llama", Layers = 1, Dim = 256, Heads = 4, KvHeads = 2, HeadDim = 64, FfnDim = 64, VocabSize = 16, ContextLength = 512,
    };

    /// <summary>The key segments head <paramref name="head"/>'s query segment <paramref name="qi"/> attends.</summary>
    private static int[] Chosen(Tensor selected, int head, int qi) =>
        [.. Enumerable.Range(0, (int)selected.shape[2]).Where(j => selected[head, qi, j].item<bool>())];

    [Fact]
    public void ProxyAttn_selects_the_one_block_the_last_queries_attend()
    {
        Runtime.Torch.EnsureStarted();
        var gen = new torch.Generator(2);
        long s = 128;
        // Small random keys; block 3 (positions 48..63) holds keys along u, and the last block's queries point along u in
        // every head: their attention (and every head's) concentrates on block 3.
        var u = torch.zeros(16); u[5] = torch.tensor(1f);
        var k = torch.randn([1, 2, s, 16], generator: gen).mul(0.1);
        k[.., .., 48..64, ..] = u.mul(8).expand(1, 2, 16, 16);
        var q = torch.randn([1, 4, s, 16], generator: gen).mul(0.1);
        q[.., .., 112..128, ..] = u.mul(8).expand(1, 4, 16, 16);
        // q.k = 64 / sqrt(16) = 16 on block 3 against about 0 elsewhere: every head's budget is one block, and it is block 3.
        var (bounds, selected) = new ProxyAttn(Block: 16, Pool: 2, Probe: 4, Gamma: 0.9).Select(q, k, k, null);
        Assert.Equal(9, bounds.Length);
        for (int h = 0; h < 4; h++)
            Assert.Equal([0, 3, 7], Chosen(selected, h, 7)); // the sink, block 3, its own block: nothing else
    }

    [Fact]
    public void ProxyAttn_caps_a_diffuse_heads_budget_at_max()
    {
        Runtime.Torch.EnsureStarted();
        // All-zero queries attend uniformly: gamma 0.9 wants 90% of the visible blocks; max 0.25 allows ceil(0.25 x 8) = 2
        // top blocks for the last query block (plus the sink and its own, which may be among them).
        var q = torch.zeros(1, 4, 128, 16);
        var k = torch.randn([1, 2, 128, 16], generator: new torch.Generator(3));
        var (_, wide) = new ProxyAttn(Block: 16, Pool: 2, Probe: 4, Gamma: 0.9).Select(q, k, k, null);
        var (_, capped) = new ProxyAttn(Block: 16, Pool: 2, Probe: 4, Gamma: 0.9, Max: 0.25).Select(q, k, k, null);
        for (int h = 0; h < 4; h++)
        {
            Assert.InRange(Chosen(wide, h, 7).Length, 7, 8);
            Assert.InRange(Chosen(capped, h, 7).Length, 2, 4);
        }
    }

    [Fact]
    public void ProxyAttn_caps_a_budget_at_a_number_of_blocks_and_keeps_the_local_ones()
    {
        Runtime.Torch.EnsureStarted();
        // The same uniform attention over 16 blocks of 8: a cap of 3 blocks allows 3 top blocks for every query block
        // (plus the sink and its own), whatever the length; local 2 adds the two blocks before the own one.
        var q = torch.zeros(1, 4, 128, 16);
        var k = torch.randn([1, 2, 128, 16], generator: new torch.Generator(3));
        var (_, capped) = new ProxyAttn(Block: 8, Pool: 2, Probe: 4, Gamma: 0.9, Blocks: 3).Select(q, k, k, null);
        var (_, local) = new ProxyAttn(Block: 8, Pool: 2, Probe: 4, Gamma: 0.9, Blocks: 3, Local: 2).Select(q, k, k, null);
        for (int h = 0; h < 4; h++)
            foreach (var qi in new[] { 5, 10, 15 })
            {
                var chosen = Chosen(capped, h, qi);
                Assert.InRange(chosen.Length, 3, 5);
                Assert.Contains(0, chosen);
                Assert.Contains(qi, chosen);
                var near = Chosen(local, h, qi);
                Assert.Subset(near.ToHashSet(), new[] { qi - 2, qi - 1 }.ToHashSet());
                Assert.InRange(near.Length, 3, 7);
            }
        Assert.Equal(new[] { 0, 1, 2 }, Chosen(capped, 0, 2)); // three visible blocks: all kept
    }

    private static readonly long[] Segments = [0, 12, 30, 40, 64, 80, 100];

    [Fact]
    public void Dhsa_cuts_chunks_where_the_keys_change_and_selects_the_chunk_the_queries_match()
    {
        Runtime.Torch.EnsureStarted();
        // Segments of variable length, each with its own key direction (orthogonal one-hot): the chunk bounds must fall
        // exactly where the direction changes (chunk 16: lengths 8 to 24).
        long s = Segments[^1];
        var k = torch.zeros(1, 2, s, 64);
        for (int j = 0; j + 1 < Segments.Length; j++)
            k[.., .., (int)Segments[j]..(int)Segments[j + 1], j] = torch.tensor(1f);
        // The last chunk's queries match segment 2's keys: keeping ceil(0.15 x 6) = 1 chunk besides the sink and its own, it is chunk 2.
        var q = torch.zeros(1, 4, s, 64);
        q[.., .., 80..100, 2] = torch.tensor(3f);
        var (bounds, selected) = new Dhsa(Chunk: 16, Keep: 0.15).Select(q, k, k, null);
        Assert.Equal(Segments, bounds);
        for (int h = 0; h < 4; h++)
            Assert.Equal([0, 2, 5], Chosen(selected, h, 5));
    }

    [Fact]
    public void Dhsa_cuts_and_scores_chunks_by_content_not_by_rotary_position()
    {
        Runtime.Torch.EnsureStarted();
        // The same segments with RoPE applied (head size 64). Segment 2 (positions 30..39) and the last chunk's queries
        // (80..99) share the rotary pair of dims 20, 21, which turns 10000^(-10/32) = 0.056 rad per position: 41 to 69
        // positions apart, the rotated vectors point 2.3 to 3.9 rad apart, so rotated chunk means score chunk 2 below
        // every other chunk (negative against zero). Rotated back to position 0, chunk 2 is the match.
        int[] dim = [40, 30, 20, 50, 60, 10];
        long s = Segments[^1];
        var content = torch.zeros(1, 2, s, 64);
        for (int j = 0; j + 1 < Segments.Length; j++)
            content[.., .., (int)Segments[j]..(int)Segments[j + 1], dim[j]] = torch.tensor(1f);
        var queries = torch.zeros(1, 4, s, 64);
        queries[.., .., 80..100, 20] = torch.tensor(3f);
        using var rope = new Rope(Spec, (int)s);
        var k = rope.Apply(content, 0);
        var (bounds, selected) = new Dhsa(Chunk: 16, Keep: 0.15).Select(rope.Apply(queries, 0), k, k, rope);
        Assert.Equal(Segments, bounds);
        for (int h = 0; h < 4; h++)
            Assert.Equal([0, 2, 5], Chosen(selected, h, 5));
        // unrotate=0 averages the rotated vectors: chunk 2 then scores lowest and is not chosen.
        var (_, rotated) = new Dhsa(Chunk: 16, Keep: 0.15, Unrotate: false).Select(rope.Apply(queries, 0), k, k, rope);
        for (int h = 0; h < 4; h++)
            Assert.DoesNotContain(2, Chosen(rotated, h, 5));
    }
}
