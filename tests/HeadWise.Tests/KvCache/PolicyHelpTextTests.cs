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
            }
            Assert.StartsWith($"{d.Name}: {d.Summary}", d.Usage);
        }
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
