using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>Issue 23 (BenchRunner.Run): a bad grid handed to Run (not only to Validate) fails with Validate's message before any work.</summary>
public class BenchRunValidatesTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    [Theory]
    [InlineData(0, "length 0 must be >= 1 token")]
    [InlineData(2040, "length 2040 leaves no room for the answer: task passkey generates up to 10 tokens and the limit is the model's context of 2048 tokens; use prompts of at most 2038 tokens")]
    public void Run_refuses_a_grid_validate_refuses(int length, string message)
    {
        var o = new TaskOptions { Lengths = [length], Depths = [0.5], Samples = 1, Seed = 2 };
        var e = Assert.Throws<HeadWiseException>(() =>
            BenchRunner.Run(Stories.Value, TaskRegistry.Create("passkey"), o, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context)));
        Assert.Equal(message, e.Message);
    }
}
