using HeadWise.KvCache;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Policy parameters at their edges (issue 23: Stryker's boundary and message mutants): each kind of parameter parses
/// what it should, states its range, and refuses the first value outside it with a message naming key, value and range.
/// </summary>
public class PolicyParameterEdgeTests
{
    private static string Error(Func<object> parse) => Assert.Throws<HeadWiseException>(() => parse()).Message;

    [Fact]
    public void A_bounded_number_takes_its_ends_and_refuses_just_outside()
    {
        var closed = PolicyParameter.Number("f", 0.2, "share", 0, 1);
        var open = PolicyParameter.Number("r", 0.5, "ratio", 0, 1, maxExclusive: true);
        Assert.Equal("in [0, 1]", closed.RangeText);
        Assert.Equal("in [0, 1)", open.RangeText);
        Assert.Equal(0.0, closed.Parse("p", "0"));
        Assert.Equal(1.0, closed.Parse("p", "1"));
        Assert.Equal(0.999, open.Parse("p", "0.999"));
        Assert.Equal("p: r=1 must be in [0, 1) (ratio; default 0.5)", Error(() => open.Parse("p", "1")));
        Assert.Equal("p: f=1.01 must be in [0, 1] (share; default 0.2)", Error(() => closed.Parse("p", "1.01")));
        Assert.Equal("p: f=-0.01 must be in [0, 1] (share; default 0.2)", Error(() => closed.Parse("p", "-0.01")));
        Assert.Equal("p: f=abc is not a number (share; default 0.2)", Error(() => closed.Parse("p", "abc")));
        Assert.Equal("p: f=Infinity is not a number (share; default 0.2)", Error(() => closed.Parse("p", "Infinity")));
        Assert.Equal("f=0.2 (share; in [0, 1])", closed.Usage);
    }

    [Fact]
    public void One_sided_and_unbounded_ranges_say_so()
    {
        Assert.Equal(">= 1", PolicyParameter.Integer("w", 32, "window", min: 1).RangeText);
        Assert.Equal("<= 8", PolicyParameter.Integer("w", 2, "w", max: 8).RangeText);
        Assert.Equal("< 2", PolicyParameter.Number("x", 1, "x", max: 2, maxExclusive: true).RangeText);
        Assert.Null(PolicyParameter.Number("x", 1, "x").RangeText);
        Assert.Null(PolicyParameter.Integer("x", 1, "x").RangeText);
        Assert.Equal("x=1 (free)", PolicyParameter.Number("x", 1, "free").Usage);
        Assert.Equal("one of max, avg", PolicyParameter.Choice("pooling", "max", ["max", "avg"], "how").RangeText);
    }

    [Fact]
    public void An_integer_takes_its_minimum_and_refuses_one_below_or_a_fraction()
    {
        var w = PolicyParameter.Integer("window", 32, "observation window", min: 1);
        Assert.Equal(1, w.Parse("snapkv", "1"));
        Assert.Equal("snapkv: window=0 must be >= 1 (observation window; default 32)", Error(() => w.Parse("snapkv", "0")));
        Assert.Equal("snapkv: window=1.5 is not an integer (observation window; default 32)", Error(() => w.Parse("snapkv", "1.5")));
        var capped = PolicyParameter.Integer("n", 2, "n", min: 0, max: 4);
        Assert.Equal(4, capped.Parse("p", "4"));
        Assert.Equal("p: n=5 must be in [0, 4] (n; default 2)", Error(() => capped.Parse("p", "5")));
    }

    [Fact]
    public void An_optional_value_takes_its_unset_word_in_any_case()
    {
        var n = PolicyParameter.OptionalNumber("threshold", "auto", "gate threshold", 0, 1);
        Assert.Null(n.Parse("duo", "AUTO"));
        Assert.Equal(0.5, n.Parse("duo", "0.5"));
        Assert.Equal("duo: threshold=2 must be in [0, 1] (gate threshold; default auto)", Error(() => n.Parse("duo", "2")));
        var i = PolicyParameter.OptionalInteger("every", "none", "stride", min: 1);
        Assert.Null(i.Parse("p", "None"));
        Assert.Equal(3, i.Parse("p", "3"));
        Assert.Equal("p: every=0 must be >= 1 (stride; default none)", Error(() => i.Parse("p", "0")));
    }

    [Fact]
    public void A_name_must_be_given_and_a_choice_must_be_one_of_its_words()
    {
        var choice = PolicyParameter.Choice("pooling", "max", ["max", "avg"], "how");
        Assert.Equal("avg", choice.Parse("snapkv", "AVG"));
        Assert.Equal("snapkv: pooling=sum is not a valid choice; valid choices: max, avg (how; default max)", Error(() => choice.Parse("snapkv", "sum")));
        Assert.Equal("snapkv: pooling is empty; give a name (default max)", Error(() => choice.Parse("snapkv", "")));
        var free = PolicyParameter.Name("scorer", "snapkv", "which");
        Assert.Equal("SnapKV", free.Parse("adakv", "SnapKV")); // a free name keeps its case
    }

    [Fact]
    public void Policy_parameters_are_key_value_pairs_each_given_once()
    {
        var spec = Spec();
        Assert.Equal("snapkv: parameter 'window' is not key=value", Assert.Throws<HeadWiseException>(() => KvPolicies.Create("snapkv", KvBudget.Parse("8"), spec, parameters: "window")).Message);
        Assert.Equal("snapkv: parameter '=3' is not key=value", Assert.Throws<HeadWiseException>(() => KvPolicies.Create("snapkv", KvBudget.Parse("8"), spec, parameters: "=3")).Message);
        Assert.Equal("snapkv: parameter 'WINDOW' is given twice", Assert.Throws<HeadWiseException>(() => KvPolicies.Create("snapkv", KvBudget.Parse("8"), spec, parameters: "window=4, WINDOW=8")).Message);
        Assert.StartsWith("full has no parameter window; it takes none", Assert.Throws<HeadWiseException>(() => KvPolicies.Create("full", KvBudget.All, spec, parameters: "window=4")).Message);
        Assert.NotNull(KvPolicies.Create("snapkv", KvBudget.Parse("8"), spec, parameters: " window = 4 ,, kernel=3 "));
        Assert.Equal("snapkv", KvPolicies.RequireKnown(" SnapKV "));
    }
}
