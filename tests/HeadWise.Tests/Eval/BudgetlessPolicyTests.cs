using HeadWise.Eval;
using HeadWise.KvCache;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (KvCacheFactory): a policy that takes no budget ("full") reports the budget All ("1.0") whatever it was
/// given, so its results and sweep key read full@1.0; a policy that takes one keeps it.
/// </summary>
public class BudgetlessPolicyTests
{
    [Fact]
    public void Full_ignores_a_given_budget_and_streaming_keeps_it()
    {
        var full = new PolicyCacheFactory("full", KvBudget.Parse("0.25"), CompressMode.Context);
        Assert.Equal("1.0", full.Budget.Text);
        Assert.Equal("full@1.0", SweepRunner.Key(full));
        var streaming = new PolicyCacheFactory("streaming", KvBudget.Parse("0.25"), CompressMode.Context);
        Assert.Equal("streaming@0.25", SweepRunner.Key(streaming));
    }
}
