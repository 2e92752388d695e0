using System.Text.Json.Nodes;
using HeadWise.KvCache;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Issue 23 (Stryker's uncovered mutants): every policy answers to the name it was created by, and after the protocol's
/// one-shot compression each policy either keeps its capacity while decoding (its paper evicts every step) or only
/// appends (it compressed once) — counted on a constructed case, not read from the flag.
/// </summary>
public class PolicyDecodeAndNameTests
{
    // Scores every atlas-reading policy needs, for a model of 4 layers x 2 KV heads.
    private static HeadScores Atlas()
    {
        double[][] Rows(double a, double b) => Enumerable.Range(0, 4).Select(_ => new[] { a, b }).ToArray();
        return new HeadScores("test", new()
        {
            ["duo-gate"] = Rows(0.9, 0.1), ["retrieval-reasoning"] = Rows(4, 1), ["heterogeneity"] = Rows(1, 0), ["retrieval"] = Rows(1, 2),
        }, new() { ["duo-gate"] = new JsonObject { ["sinks"] = 2, ["recent"] = 2 } });
    }

    [Fact]
    public void Every_policy_is_named_by_the_name_it_was_created_with()
    {
        var spec = Spec(layers: 4);
        var names = new List<string>();
        foreach (var name in KvPolicies.Names)
        {
            var policy = KvPolicies.Create(name, KvBudget.Parse("8"), spec, Atlas(), name == "longheads" ? "chunk=16" : null);
            names.Add(policy.Name);
        }
        Assert.Equal(KvPolicies.Names, names);
        Assert.Equal(13, names.Distinct().Count());
    }

    /// <summary>
    /// 20 context positions compressed at a ratio of 0.25 (5 kept per head; duo's streaming head keeps its sinks 2 +
    /// recent 2), then 4 decode steps: a policy that evicts while decoding still holds what it held at the compression,
    /// one that compressed once holds 4 more.
    /// </summary>
    [Theory]
    [InlineData("streaming", 5, 5, 5, 5)]
    [InlineData("h2o", 5, 5, 5, 5)]
    [InlineData("spatten", 5, 5, 5, 5)]
    [InlineData("snapkv", 5, 5, 9, 9)]
    [InlineData("ems", 5, 5, 9, 9)]
    [InlineData("taskkv", 20, 5, 24, 9)]
    [InlineData("duo", 20, 4, 24, 4)]
    public void After_the_compression_only_policies_that_evict_while_decoding_keep_their_capacity(string name, int head0AtCompression,
        int head1AtCompression, int? head0After, int head1After)
    {
        var spec = Spec(heads: 4); // GQA: duo's default sparsity 0.5 streams 1 of the 2 KV heads
        var atlas = new HeadScores("test", new() { ["duo-gate"] = [[0.9, 0.1]], ["heterogeneity"] = [[1.0, 0.0]] },
            new() { ["duo-gate"] = new JsonObject { ["sinks"] = 2, ["recent"] = 2 } });
        string? parameters = name switch { "taskkv" => "full=0.5,sinks=1", "snapkv" or "ems" => "window=2", _ => null };
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create(name, KvBudget.Parse("0.25"), spec, atlas, parameters), CompressMode.Context);
        RunOneShot(cache, spec, context: 20, decode: 0, (_, _) => 0f);
        Assert.Equal(new[] { head0AtCompression, head1AtCompression }, new[] { cache.Kept(0, 0), cache.Kept(0, 1) });
        for (int i = 0; i < 4; i++)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var (q, k, v) = Step(spec, 20 + i, 1, (_, _) => 0f);
            cache.Attend(0, q, k, v);
            cache.Advance(1);
        }
        Assert.Equal(head1After, cache.Kept(0, 1));
        // duo's full head keeps every position while decoding, as DuoAttention's retrieval heads do.
        if (head0After is { } h0) Assert.Equal(h0, cache.Kept(0, 0));
    }
}
