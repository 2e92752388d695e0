using System.Text.RegularExpressions;
using HeadWise.KvCache;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Issue 23 (Stryker's surviving static mutants: help strings emptied): what `--kv-policy` help prints for each policy,
/// its method with its source, a summary, and a help line for every parameter, and the compression points by name.
/// </summary>
public class PolicyHelpTextTests
{
    [Fact]
    public void Every_policy_names_its_method_and_summarises_itself_and_each_parameter()
    {
        foreach (var d in KvPolicies.Declarations)
        {
            // "Author et al. year" or "(year)" for a paper; the baseline says what it is.
            Assert.Matches(new Regex(@"\(.*\d{4}\)|^(no compression|DELTA|EMS|Task-KV)$"), d.Method);
            Assert.True(d.Summary.Split(' ').Length >= 5, $"{d.Name}: summary '{d.Summary}'");
            foreach (var p in d.Parameters)
            {
                Assert.True(p.Help.Split(' ').Length >= 2, $"{d.Name}.{p.Key}: help '{p.Help}'");
                Assert.Matches(new Regex(@"^[a-z][a-z_]*$"), p.Key);
                Assert.Contains($"{p.Key}=", d.Usage);
                // An optional parameter's word for "not given" (auto, none, context) is shown and parses as unset.
                if (p.Unset) Assert.Null(p.Parse(d.Name, p.Default.ToUpperInvariant()));
                Assert.True(p.Default.Length > 0, $"{d.Name}.{p.Key}: empty default");
            }
            Assert.StartsWith($"{d.Name}: {d.Summary}", d.Usage);
        }
    }

    [Fact]
    public void The_scorer_parameter_names_the_policies_that_score_and_duo_takes_its_unset_words()
    {
        Assert.Equal(["streaming", "h2o", "snapkv"], KvPolicies.Scorers);
        Assert.StartsWith("the scorer that ranks each head's positions: ", AllocationPolicy.ScorerParameter.Help);
        Assert.Contains($"({string.Join(", ", KvPolicies.Scorers)})", AllocationPolicy.ScorerParameter.Help);
        // duo's optional numbers are unset by default and by their words, which its usage shows.
        var spec = KvTestCases.Spec(heads: 4);
        var atlas = new HeadScores("t", new() { ["duo-gate"] = [[0.9, 0.1]] });
        var duo = (HeadWise.KvCache.Policies.DuoPolicy)KvPolicies.Create("duo", KvBudget.All, spec, atlas, "sparsity=AUTO,threshold=None");
        Assert.Equal((0.5, (double?)null), (duo.Sparsity, duo.Threshold));   // GQA: the paper's 0.5
        Assert.Contains("sparsity=auto", KvPolicies.Declaration("duo").Usage);
        Assert.Contains("threshold=none", KvPolicies.Declaration("duo").Usage);
        Assert.Contains("score=duo-gate", KvPolicies.Declaration("duo").Usage);
    }

    [Fact]
    public void Policies_sized_by_their_own_parameters_run_once_in_a_sweep_and_the_others_once_per_budget()
    {
        var plan = new HeadWise.Eval.SweepPlan("copy", ["full", "duo", "longheads", "h2o"], ["0.25", "8"], new HeadWise.Eval.TaskOptions { Lengths = [40] });
        Assert.Equal(["full@1.0", "duo@1.0", "longheads@1.0", "h2o@0.25", "h2o@8"], HeadWise.Eval.SweepRunner.Cells(plan).Select(HeadWise.Eval.SweepRunner.Key));
    }

    [Fact]
    public void Compression_points_parse_from_the_names_they_print()
    {
        Assert.Equal(["context", "question", "chunked"], CompressModes.Names);
        foreach (var m in Enum.GetValues<CompressMode>()) Assert.Equal(m, CompressModes.Parse(m.Name().ToUpperInvariant()));
        Assert.Equal(CompressMode.Context, CompressModes.Default);
        Assert.Equal("--compress 'later' is not a compression point; valid choices: context, question, chunked",
            Assert.Throws<HeadWiseException>(() => CompressModes.Parse("later")).Message);
    }
}
