using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SampleRunner under `--compress question` and `chunked`, where the compression point is the prompt's end):
/// the whole prompt is fed before compressing, and the answer decoded from its last position is what a plain greedy loop
/// of full forwards (no cache, no harness) writes.
/// </summary>
public class QuestionModeDecodeTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Theory]
    [InlineData(CompressMode.Question)]
    [InlineData(CompressMode.Chunked)]
    public void An_answer_compressed_at_the_prompts_end_is_the_greedy_loops(CompressMode mode)
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("passkey");
        var o = new TaskOptions { Lengths = [120], Depths = [0.5], Samples = 1, Seed = 2 };
        var s = task.Generate(m.Tokenizer, o)[0];
        var expected = m.Tokenizer.Decode(HarnessIndependentCheckTests.GreedyByFullForwards(m, s.Tokens, s.MaxNewTokens));
        Assert.False(string.IsNullOrWhiteSpace(expected));
        var r = BenchRunner.Run(m, task, o, new PolicyCacheFactory("full", KvBudget.All, mode));
        Assert.Equal(expected, r.Answers![0].Output);
    }
}
