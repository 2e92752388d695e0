using HeadWise.Eval;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in EvalSample's defaults): a prompt without a haystack marks the haystack span and
/// the needle start as -1 ("not applicable", as EvalSample documents), never as a position a report could read.
/// </summary>
public class NoHaystackSpanTests
{
    [Theory]
    [InlineData("copy")]
    [InlineData("copy-shuffled")]
    [InlineData("perplexity")]
    public void Tasks_without_a_haystack_mark_its_span_not_applicable(string name)
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var s = TaskRegistry.Create(name).Generate(m.Tokenizer, new TaskOptions { Lengths = [41], Seed = 1, HaystackPath = TestPaths.MobyDick })[0];
        Assert.Equal((-1, -1, -1), (s.HaystackStart, s.HaystackEnd, s.NeedleStart));
        Assert.Null(s.Answer);
        Assert.Null(s.Depth);
    }
}
