using HeadWise.Eval;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>Hooks given to the harness act on every forward call (prefill, scored chunks, decoding): the masking check's seam.</summary>
public sealed class BenchHooksTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Fact]
    public void Ablating_heads_through_the_harness_changes_the_scores_and_an_observer_does_not()
    {
        var m = Stories.Value;
        var o = new TaskOptions { Lengths = [200], Samples = 1, Seed = 4, HaystackPath = TestPaths.MobyDick };
        var task = TaskRegistry.Create("perplexity");
        var full = new PolicyCacheFactory("full", KvBudget.All, CompressMode.Chunked);   // perplexity streams
        var plain = BenchRunner.Run(m, task, o, full);
        var observed = BenchRunner.Run(m, task, o, full, hooks: new HookSet().Add(HookNames.ForLayer(2).Z, z => z));
        Assert.Equal(plain.Perplexity, observed.Perplexity);
        var ablate = new HookSet();
        for (int h = 0; h < m.Spec.Heads; h++) ablate.Add(HeadAblation.Zero(4, h));
        var ablated = BenchRunner.Run(m, task, o, full, hooks: ablate);
        Assert.True(ablated.Perplexity > plain.Perplexity * 1.02, $"perplexity {plain.Perplexity} plain, {ablated.Perplexity} with layer 4 ablated");

        // Decoding sees the hooks too: passkey answers change when every head of the last layer is ablated.
        var pk = new TaskOptions { Lengths = [120], Depths = [0.5], Samples = 3, Seed = 2 };
        var answers = BenchRunner.Run(m, TaskRegistry.Create("passkey"), pk, full).Answers!.Select(a => a.Output).ToList();
        var ablatedAnswers = BenchRunner.Run(m, TaskRegistry.Create("passkey"), pk, full, hooks: ablate).Answers!.Select(a => a.Output).ToList();
        Assert.NotEqual(answers, ablatedAnswers);
    }
}
