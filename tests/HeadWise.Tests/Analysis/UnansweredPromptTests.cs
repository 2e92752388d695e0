using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Issue 23 (Stryker's uncovered mutants in Analysis): <see cref="ConstructedHeads"/> with its copy head zeroed has no
/// head whose output reaches the logits, so by construction it answers no needle prompt. The generation scores then
/// count no prompt, score every head 0 and say why; attention-influence has no retrieval head to mask. Also the scores'
/// argument errors and DuoAttention pattern files at their edges.
/// </summary>
public class UnansweredPromptTests
{
    private static (ProfileContext Ctx, List<string> Progress) Context(bool copyHead, bool withTokenizer = false)
    {
        var tok = new CharTokenizer(words: 3 * 31);
        var progress = new List<string>();
        var hooks = copyHead ? null : new HookSet().Add(HeadAblation.Zero(ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head));
        var ctx = new ProfileContext(ConstructedHeads.Build(tok), withTokenizer ? tok : null, ConstructedHeads.Probes(tok, 3, 32), seed: 1, hooks, progress.Add);
        return (ctx, progress);
    }

    private static string Error(Action a) => Assert.Throws<HeadWiseException>(a).Message;

    [Fact]
    public void Without_its_copy_head_the_model_answers_no_prompt_so_every_head_scores_zero()
    {
        var (ctx, progress) = Context(copyHead: false);
        using (ctx)
        {
            var retrieval = new RetrievalScore(prompts: 4).Compute(ctx).Single();
            Assert.Equal(0, retrieval.Params!["prompts_answered"]!.GetValue<int>());
            Assert.All(retrieval.Flat(), v => Assert.Equal(0.0, v));
            Assert.Contains("retrieval: the model answered none of the 4 prompts, so every head scores 0 (only answered prompts count)", progress);

            // The duplicate head still looks into each needle (about 60% of its attention): only answered prompts may count it.
            var reasoning = new RetrievalReasoningScore(prompts: 4).Compute(ctx).Single();
            Assert.Equal(0, reasoning.Params!["prompts_answered"]!.GetValue<int>());
            Assert.All(reasoning.Flat(), v => Assert.Equal(0.0, v));
            Assert.Contains("retrieval-reasoning: the model answered none of the 4 prompts, so every head scores 0 (only answered prompts count)", progress);
            Assert.Equal("probe-text spans of 12 tokens, asked by their first 3", reasoning.Params!["needles"]!.GetValue<string>());

            ctx.Remember(retrieval);
            var influence = new AttentionInfluenceScore().Compute(ctx).Single();
            Assert.All(influence.Flat(), v => Assert.Equal(0.0, v));
            Assert.False(influence.Params!.ContainsKey("ranking"));   // no losses were computed
            Assert.Equal(0, influence.Params!["masked_heads"]!.AsArray().Count);
            Assert.Contains("attention-influence: the retrieval score is 0 for every head, so there are no retrieval heads to mask", progress);
        }
    }

    [Fact]
    public void Scores_refuse_probes_and_contexts_too_small_for_them()
    {
        var (ctx, _) = Context(copyHead: true);
        using (ctx)
        {
            Assert.Equal("locality needs probes of at least 33 tokens (window 31); they have 32", Error(() => new LocalityScore(window: 31).Compute(ctx)));
            Assert.Equal(2, new LocalityScore(window: 30).Compute(ctx).Count);   // 32 = 30 + 2: just enough
            Assert.Equal("qk-select needs the model's tokenizer to write the question and option letters", Error(() => new QkSelectScore().Compute(ctx)));
            // 96-token context: 7 facts of 12 + the asked fact's 12 + BOS leave 96 - 97 < 2 for a haystack.
            Assert.Equal("retrieval-reasoning: 7 facts of 12 tokens and the answer leave no room for a haystack in the model's 96-token context",
                Error(() => new RetrievalReasoningScore(prompts: 1, facts: 7).Compute(ctx)));
        }
    }

    [Fact]
    public void Duo_pattern_files_beside_a_foreign_or_broken_config()
    {
        var dir = TestPaths.NewTempDir();
        var tsv = Path.Combine(dir, "full_attention_heads.tsv");
        File.WriteAllText(tsv, "0.5\t1\n");
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ not json");
        var read = DuoPattern.Read(tsv);   // a config that is not JSON is not the pattern's: the paper's defaults
        Assert.Equal((DuoPattern.PaperSinks, DuoPattern.PaperRecent), (read.Sinks, read.Recent));
        Assert.Equal("a DuoAttention pattern needs the same non-zero number of KV heads in every layer",
            Error(() => new DuoPattern([[0.5, 1], [0.5]], 4, 8).Write(Path.Combine(TestPaths.NewTempDir(), "p.tsv"))));
        Assert.Equal("a DuoAttention pattern needs the same non-zero number of KV heads in every layer",
            Error(() => new DuoPattern([], 4, 8).Write(Path.Combine(TestPaths.NewTempDir(), "p.tsv"))));
        var atlas = new HeadAtlas { Model = "m", Layers = 2, Heads = 4, KvHeads = 2 };
        Assert.Equal("p.tsv: 1 layers x 2 KV heads, but the model has 2 x 2", Error(() => read.IntoAtlas(atlas, "p.tsv")));
    }
}
