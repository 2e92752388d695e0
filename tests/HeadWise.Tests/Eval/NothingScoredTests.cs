using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SampleRunner's score of a prompt with nothing to score): a task (any IEvalTask, not only the registered
/// ones) whose sample has no answer and no scored token scores 0, not 0 / 0 = NaN, and reports no perplexity.
/// </summary>
public class NothingScoredTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Fact]
    public void A_sample_with_nothing_to_score_scores_zero()
    {
        var r = BenchRunner.Run(Stories.Value, new PromptOnly(), new TaskOptions { Lengths = [8] }, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context));
        Assert.Equal(0.0, r.Accuracy);
        Assert.Equal(0.0, r.ByLength["8"].Accuracy);
        Assert.Null(r.PerplexityNats);
        Assert.Null(r.ExactMatch);
    }

    /// <summary>Prompts of the asked length, all context, nothing scored and no answer.</summary>
    private sealed class PromptOnly : IEvalTask
    {
        public string Name => "prompt-only";
        public bool HasDepth => false;
        public IReadOnlyList<EvalSample> Generate(ITokenizer tokenizer, TaskOptions options) =>
            [.. options.Lengths.Select(l =>
            {
                var tokens = tokenizer.Encode(string.Concat(Enumerable.Repeat("Once upon a time there was a cat. ", l)), true).Take(l).ToArray();
                return new EvalSample { Length = l, Tokens = tokens, ScoredFrom = tokens.Length };
            })];
    }
}
