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

    [Fact]
    public void Decode_phase_hooks_run_on_the_last_prompt_token_and_the_generated_ones_only()
    {
        var m = Stories.Value;
        var pk = new TaskOptions { Lengths = [120], Depths = [0.5], Samples = 1, Seed = 2 };
        var full = new PolicyCacheFactory("full", KvBudget.All, CompressModes.Default);
        var rows = new List<long>();
        var observer = new HookSet().Add(HookNames.ForLayer(0).Z, z => { rows.Add(z.shape[1]); return z; });
        var task = TaskRegistry.Create("passkey");
        BenchRunner.Run(m, task, pk, full, hooks: observer, hookPhase: HookPhase.Decode);
        Assert.NotEmpty(rows);
        Assert.All(rows, t => Assert.Equal(1, t));                  // one position a call: never the prompt's prefill
        Assert.InRange(rows.Count, 1, task.AnswerTokens);            // the last prompt token, then all but the last answer token
        rows.Clear();
        BenchRunner.Run(m, task, pk, full, hooks: observer);
        Assert.True(rows[0] > 1 && rows.Sum() >= 120, $"everywhere: the prompt's prefill is hooked too (calls of {string.Join(",", rows)} positions)");

        // A task without an answer has no decoding to hook.
        var e = Assert.Throws<HeadWiseException>(() => BenchRunner.Run(m, TaskRegistry.Create("perplexity"),
            new TaskOptions { Lengths = [100], Samples = 1, HaystackPath = TestPaths.MobyDick }, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Chunked),
            hooks: observer, hookPhase: HookPhase.Decode));
        Assert.Contains("decoding only", e.Message);
    }
}
