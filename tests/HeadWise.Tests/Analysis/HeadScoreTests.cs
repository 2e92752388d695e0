using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Tests.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>Each score on constructed heads whose answer is known: a hook replaces a head's pattern with a hand-made one.</summary>
public sealed class HeadScoreTests
{
    private const int T = 24;

    /// <summary>Replaces head (layer, head)'s pattern [T, S] with <paramref name="make"/>(T, S).</summary>
    private static HookSet Construct(HookSet set, int layer, int head, Func<long, long, Tensor> make) =>
        set.Add(HookNames.ForLayer(layer).Pattern, p =>
        {
            var r = p.clone();
            r[.., head] = make(p.shape[2], p.shape[3]);
            return r;
        });

    private static Tensor OnlyFirst(long t, long s) { var a = torch.zeros(t, s); a[.., 0] = 1; return a; }
    private static Tensor PreviousToken(long t, long s) => torch.eye(t, s, 0).roll(-1, 1).tril() is var x && t > 0 ? PrevImpl(t, s) : x;
    private static Tensor PrevImpl(long t, long s) { var a = torch.zeros(t, s); a[0, 0] = 1; for (long i = 1; i < t; i++) a[i, i - 1] = 1; return a; }
    private static Tensor UniformCausal(long t, long s) { var a = torch.ones(t, s).tril(); return a / a.sum(-1, keepdim: true); }

    private static ProfileContext Context(HookSet hooks, string family = "llama")
    {
        var model = TinyModels.Build(family);
        var probes = Enumerable.Range(0, 3).Select(d => TinyModels.Tokens(T, seed: d).data<long>().Select(x => (int)x).ToArray()).ToList();
        return new ProfileContext(model, null, probes, seed: 1, hooks: hooks);
    }

    [Fact]
    public void HeadAttendingOnlyToFirstTokenHasSinkOne()
    {
        using var ctx = Context(Construct(new HookSet(), 1, 2, OnlyFirst));
        var map = new SinkScore().Compute(ctx)[0];
        Assert.Equal(1.0, map[1, 2], 5);
        Assert.True(map[0, 0] < 0.99);
        Assert.Equal(map.Flat().Count(v => v > 0.3) / 8.0, map.Params!["sink_ratio"]!.GetValue<double>(), 9);
        // Over layers 1 and up only: layer 1's four heads, the constructed sink among them.
        Assert.Equal(Enumerable.Range(0, 4).Count(h => map[1, h] > 0.3) / 4.0, map.Params!["sink_ratio_from_layer_1"]!.GetValue<double>(), 9);
        Assert.True(map.Params!["sink_ratio_from_layer_1"]!.GetValue<double>() >= 0.25);
    }

    [Fact]
    public void PreviousTokenHeadHasWaadNearOneAndFirstTokenHeadHasClippedDistance()
    {
        var hooks = Construct(Construct(new HookSet(), 0, 1, PrevImpl), 1, 3, OnlyFirst);
        using var ctx = Context(hooks);
        var maps = new LocalityScore(window: 10).Compute(ctx);
        var waad = maps.Single(m => m.Name == "waad");
        Assert.Equal((T - 1) / (double)T, waad[0, 1], 5);
        double expected = Enumerable.Range(0, T).Average(t => Math.Min(t, 10)); // attends to 0 from t: distance t, clipped at W
        Assert.Equal(expected, waad[1, 3], 5);
        var fai = maps.Single(m => m.Name == "fai");
        // Previous-token head: key s receives 1 from query s+1 only, so its mean over the T-1-s later queries is 1/(T-1-s), largest at s = T-1-W.
        Assert.Equal(1.0 / 10, fai[0, 1], 5);
        Assert.Equal(0.0, fai[1, 3], 6); // all its attention goes to position 0, which FAI excludes
    }

    [Fact]
    public void EntropyOfUniformAndOneHotHeads()
    {
        using var ctx = Context(Construct(Construct(new HookSet(), 0, 0, UniformCausal), 0, 3, OnlyFirst));
        var map = new EntropyScore().Compute(ctx)[0];
        Assert.Equal(Enumerable.Range(1, T).Average(n => Math.Log(n)), map[0, 0], 4);
        Assert.Equal(0.0, map[0, 3], 6);
    }

    [Fact]
    public void SecondarySinkFindsAConstructedSinkPosition()
    {
        // Every head of layer 1 splits each query's attention between token 0 and token 3 (once 3 is visible).
        var hooks = new HookSet();
        for (int h = 0; h < 4; h++)
            Construct(hooks, 1, h, (t, s) => { var a = OnlyFirst(t, s); for (long i = 3; i < t; i++) { a[i, 0] = 0.5; a[i, 3] = 0.5; } return a; });
        using var ctx = Context(hooks);
        var map = new SecondarySinkScore(threshold: 0.3, minFuture: 8).Compute(ctx)[0];
        Assert.Equal(0.5, map[1, 0], 5);
        var sinks = map.Params!["sinks"]!.AsArray();
        Assert.All(sinks, s => Assert.Equal(3, s!["position"]!.GetValue<long>()));
        Assert.Equal(3, sinks.Count); // one per probe document
    }

    [Fact]
    public void IdenticalHeadsHaveSimilarityOneAndCluster()
    {
        using var ctx = Context(Construct(Construct(new HookSet(), 0, 0, PrevImpl), 0, 2, PrevImpl));
        var map = new SimilarityScore(threshold: 0.999).Compute(ctx)[0];
        Assert.Equal(1.0, map[0, 0], 5);
        Assert.Equal(1.0, map[0, 2], 5);
        Assert.Contains(map.Params!["clusters"]!.AsArray(), c => c!.AsArray().Select(x => x!.GetValue<string>()).SequenceEqual(["0.0", "0.2"]));
    }

    [Fact]
    public void HeadWithoutOutputHasZeroImportanceAndSensitivity()
    {
        using var ctx = Context(new HookSet());
        var wo = ctx.Model.Weights.Layers[1].Wo;
        using (torch.no_grad()) wo.narrow(1, 2 * 8, 8).zero_(); // head 1.2 writes nothing
        var importance = new ImportanceScore().Compute(ctx);
        Assert.Equal(0.0, importance[0][1, 2], 6);
        Assert.Equal(0.0, importance[1][1, 2], 6);
        Assert.True(importance[1].Flat().Max() > 1e-4, "other heads matter");
        var sens = new SensitivityScore().Compute(ctx)[0];
        Assert.Equal(0.0, sens[1, 2], 9);
        Assert.True(sens.Flat().Max() > 0);
    }

    [Fact]
    public void SensitivityHeadOutputTermIsZeroWhenAllValuesAreAlike()
    {
        // KV head 0 of layer 1 gets one value vector at every position: sparsifying its query heads (0 and 1) changes
        // their attention (the map term) but not their output (the output term), whatever the pattern.
        var hooks = new HookSet().Add(HookNames.ForLayer(1).V, v =>
        {
            var r = v.clone();
            r[.., .., 0] = v[.., 0, 0].unsqueeze(1).expand(-1, v.shape[1], -1);
            return r;
        });
        using var ctx = Context(hooks);
        var map = new SensitivityScore().Compute(ctx)[0];
        var a = map.Params!["attention_map_term"]!.AsArray()[1]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var o = map.Params!["head_output_term"]!.AsArray()[1]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        for (int h = 0; h < 2; h++)
        {
            Assert.True(o[h] < 1e-12 * Math.Max(1, a[h]), $"head 1.{h}: output term {o[h]}");
            Assert.True(a[h] > 0, $"head 1.{h}: map term {a[h]}");
        }
        Assert.True(o[2] > 0 && o[3] > 0, "the other KV head's query heads keep an output term");
    }

    [Fact]
    public void HeterogeneityIsZeroWhenAllHeadsAgree()
    {
        // Same q/k/v for every head of layer 0 and the same W_O slice: every head's output equals the layer centre.
        using var ctx = Context(new HookSet());
        var w = ctx.Model.Weights.Layers[0];
        using (torch.no_grad())
        {
            for (int h = 1; h < 4; h++) { w.Wq.narrow(0, h * 8, 8).copy_(w.Wq.narrow(0, 0, 8)); w.Wo.narrow(1, h * 8, 8).copy_(w.Wo.narrow(1, 0, 8)); }
            for (int h = 1; h < 2; h++) { w.Wk.narrow(0, h * 8, 8).copy_(w.Wk.narrow(0, 0, 8)); w.Wv.narrow(0, h * 8, 8).copy_(w.Wv.narrow(0, 0, 8)); }
        }
        var map = new HeterogeneityScore().Compute(ctx)[0];
        Assert.All(map.Values[0], v => Assert.Equal(0.0, v, 4));
        Assert.True(map.Values[1].Max() > 0.01);
    }

    [Fact]
    public void RetrievalRuleCountsOnlyCopiesFromInsideTheNeedle()
    {
        var p = new NeedlePrompt([1, 9, 9, 5, 6, 7, 9, 5], NeedleStart: 3, Needle: [5, 6, 7], Answer: [6, 7]);
        Assert.True(RetrievalScore.CopiesFromNeedle(p, 4, 6));   // inside, holds the token
        Assert.False(RetrievalScore.CopiesFromNeedle(p, 4, 7));  // inside, other token
        Assert.False(RetrievalScore.CopiesFromNeedle(p, 7, 5));  // the cue, outside the needle
        Assert.False(RetrievalScore.CopiesFromNeedle(p, 20, 5)); // a generated position
    }

    [Fact]
    public void EncoderProfileSkipsGenerationScoresAndSaysSo()
    {
        using var ctx = Context(new HookSet(), "bert");
        var atlas = HeadProfiler.Profile(ctx, ScoreRegistry.Parse("sink,entropy,retrieval,duo-gate,qk-select,sensitivity,importance"), "tiny-bert");
        Assert.Equal(["duo-gate", "qk-select", "retrieval", "sensitivity"], atlas.Skipped.Select(kv => kv.Key).Order());
        Assert.Contains("sink", atlas.Scores.Keys);
        Assert.Contains("importance", atlas.Scores.Keys);
    }

    [Fact]
    public void EveryScoreHasAHelpLineAndNoOtherNameDoes()
    {
        Assert.Equal(ScoreRegistry.Names.Order(), ScoreHelp.Lines.Keys.Order());
        Assert.Contains("retrieval-reasoning: HeadKV-R2", ScoreHelp.Describe(ScoreRegistry.Names));
    }

    [Fact]
    public void UnknownScoreNameIsAClearError()
    {
        var e = Assert.Throws<HeadWiseException>(() => ScoreRegistry.Parse("sink,bogus"));
        Assert.Contains("bogus", e.Message);
        Assert.Contains("retrieval", e.Message);
    }
}
