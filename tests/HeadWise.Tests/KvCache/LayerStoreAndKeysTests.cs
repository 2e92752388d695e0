using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Issue 23 (Stryker's uncovered mutants): the head-wise store's decode writes when two heads of one group fill
/// different holes, the split of a group whose heads' counts diverge, and the keys and query a key-reading policy is
/// handed at a prefill chunk, a decode step and a one-shot compression — each compared with the rows that went in.
/// </summary>
public class LayerStoreAndKeysTests
{
    // Row t of KV head h: every entry 100 h + t (+ j/10 along the head dimension), so a row names where it came from.
    private static Tensor Rows(int heads, int from, int count) =>
        torch.tensor(Enumerable.Range(0, heads).SelectMany(h => Enumerable.Range(from, count).SelectMany(t =>
            Enumerable.Range(0, HeadDim).Select(j => 100f * h + t + j / 10f))).ToArray(), [heads, count, HeadDim]);

    private static float[] Row(Tensor rows, int slot) => rows[slot].data<float>().ToArray();

    [Fact]
    public void A_decode_step_writes_each_heads_row_into_its_own_hole_and_diverging_heads_split_into_groups()
    {
        using var store = new LayerStore(2, HeadDim, false, ScalarType.Float32);
        using var k = Rows(2, 0, 5);
        using var v = -k;
        store.AppendChunk(k, v, 0);
        store.EvictStep([[1], [3]]);   // one group, holes at different slots
        Assert.Single(store.Groups);
        using var k5 = Rows(2, 5, 1);
        using var v5 = -k5;
        store.AppendStep(store.Groups[0], k5, v5, 5);
        Assert.Equal(Row(k5[0], 0), Row(store.Rows(0).K, 1));
        Assert.Equal(Row(k5[1], 0), Row(store.Rows(1).K, 3));
        Assert.Equal(Row(v5[1], 0), Row(store.Rows(1).V, 3));
        Assert.Equal(Row(k[1], 1), Row(store.Rows(1).K, 1));   // head 1's slot 1 still holds position 1
        Assert.Equal(new long[] { 0, 5, 2, 3, 4 }, store.Heads[0].Positions[..5]);
        Assert.Equal(new long[] { 0, 1, 2, 5, 4 }, store.Heads[1].Positions[..5]);

        var old = store.Groups[0];
        store.EvictStep([[0], null]);   // head 0 keeps 4, head 1 keeps 5: their group splits
        Assert.Equal(2, store.Groups.Count);
        Assert.Equal([[0], [1]], store.Groups.Select(g => g.Heads).OrderBy(h => h[0]));
        Assert.True(old.K.IsInvalid);   // the joint tensors were freed once copied
        Assert.Equal(Row(k5[0], 0), Row(store.Rows(0).K, 1));
        Assert.Equal(Row(k5[1], 0), Row(store.Rows(1).K, 3));
        Assert.Equal(Row(k[1], 4), Row(store.Rows(1).K, 4));
    }

    /// <summary>Records the keys and query of every head at every eviction call; evicts nothing.</summary>
    private sealed class KeyReader(ModelSpec spec, bool decodes) : KvPolicy(spec, KvBudget.All)
    {
        public List<(int Layer, int Step, float[] Keys, float[] Query)[]> Calls { get; } = [];
        public override string Name => "keys";
        public override bool EvictsWhileDecoding => decodes;
        public override KvStats Needs => KvStats.Keys;
        public override int[]?[] Evictions(LayerView layer)
        {
            Calls.Add([.. layer.Heads.Select(h => (layer.Layer, layer.Step, h.Keys!, h.Query!))]);
            return new int[]?[layer.Heads.Length];
        }
    }

    [Theory]
    [InlineData(CompressMode.Chunked)]
    [InlineData(CompressMode.Context)]
    public void A_key_reading_policy_sees_each_heads_stored_keys_and_its_groups_mean_last_query(CompressMode mode)
    {
        var spec = Spec(heads: 4, kvHeads: 2);
        var policy = new KeyReader(spec, decodes: true);
        using var cache = new HeadWiseKvCache(spec, policy, mode);
        torch.manual_seed(11);
        using var q = torch.randn(1, 4, 7, HeadDim);
        using var k = torch.randn(1, 2, 7, HeadDim);
        using var v = torch.randn(1, 2, 7, HeadDim);
        cache.Attend(0, q.narrow(2, 0, 6), k.narrow(2, 0, 6), v.narrow(2, 0, 6));
        cache.Advance(6);
        cache.Compress();   // the one-shot compression under context; nothing under chunked
        cache.Attend(0, q.narrow(2, 6, 1), k.narrow(2, 6, 1), v.narrow(2, 6, 1));
        cache.Advance(1);
        // Two calls: the prefill chunk (chunked) or the compression (context), then the decode step; 6 keys, then 7.
        Assert.Equal(2, policy.Calls.Count);
        foreach (var (call, n) in policy.Calls.Zip(new[] { 6, 7 }))
            for (int h = 0; h < 2; h++)
            {
                var expectedKeys = k[0, h].narrow(0, 0, n).contiguous().data<float>().ToArray();
                var expectedQuery = q[0].narrow(0, 2 * h, 2).select(1, n - 1).mean([0]).data<float>().ToArray();
                Assert.Equal(expectedKeys, call[h].Keys);
                Assert.Equal(expectedQuery, call[h].Query, (a, b) => Math.Abs(a - b) < 1e-6f);
            }
    }

    [Fact]
    public void A_policy_that_scores_nothing_or_lacks_a_statistic_says_which()
    {
        var policy = new KeyReader(Spec(), decodes: false);
        var head = new HeadView { Layer = 0, Head = 0, Count = 1, Positions = [0] };
        Assert.Equal("keys must override Score or Evictions", Assert.Throws<NotImplementedException>(() => policy.Score(head, 1, 1)).Message);
        var snap = KvPolicies.Create("snapkv", KvBudget.Parse("1"), Spec());
        var layer = new LayerView { Layer = 0, Length = 3, BudgetLength = 3, Step = 3, Heads = [new HeadView { Layer = 0, Head = 0, Count = 3, Positions = [0, 1, 2] }] };
        Assert.Equal("snapkv: the cache did not provide Window statistics", Assert.Throws<InvalidOperationException>(() => snap.Evictions(layer)).Message);
    }
}
