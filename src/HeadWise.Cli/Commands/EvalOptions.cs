using System.CommandLine;
using System.Globalization;
using HeadWise.Eval;

namespace HeadWise.Cli.Commands;

/// <summary>Grid options shared by `bench` and `sweep`.</summary>
/// <param name="lengths">The default --lengths.</param>
/// <param name="depths">The default --depths.</param>
internal sealed class EvalOptions(string lengths = "256", string depths = "0,0.25,0.5,0.75,1")
{
    public readonly Option<string> Task = new("--task") { Description = $"Task: {string.Join(", ", TaskRegistry.Names)}", Required = true };
    public readonly Option<string> Lengths = new("--lengths") { Description = "Prompt lengths in tokens, comma-separated", DefaultValueFactory = _ => lengths };
    public readonly Option<string> Depths = new("--depths") { Description = "Needle depths in [0, 1], comma-separated", DefaultValueFactory = _ => depths };
    public readonly Option<int> Samples = new Option<int>("--samples") { Description = "Prompts per grid cell", DefaultValueFactory = _ => 1 }.InRange(1, 100_000);
    public readonly Option<int> Seed = new("--seed") { Description = "Seed for the prompts", DefaultValueFactory = _ => 1 };
    public readonly Option<string?> Haystack = new("--haystack") { Description = "Text file for niah/multikey haystacks and perplexity (default: shared/data/moby-dick.txt when found)" };

    public IEnumerable<Option> All => [Task, Lengths, Depths, Samples, Seed, Haystack];

    public TaskOptions Read(ParseResult r) => new()
    {
        Lengths = List(r.GetValue(Lengths)!, "--lengths", s => int.Parse(s, CultureInfo.InvariantCulture) is var n && n is >= 1 and <= 1 << 24 ? n
            : throw new HeadWiseException($"--lengths: {n} is out of range (1..{1 << 24})")),
        Depths = List(r.GetValue(Depths)!, "--depths", s => double.Parse(s, CultureInfo.InvariantCulture) is var d && d is >= 0 and <= 1 ? d
            : throw new HeadWiseException($"--depths: {d} is not a depth in [0, 1]")),
        Samples = r.GetValue(Samples),
        Seed = r.GetValue(Seed),
        HaystackPath = r.GetValue(Haystack) ?? FindDefaultHaystack(),
    };

    private static List<T> List<T>(string text, string option, Func<string, T> parse)
    {
        try { return [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse)]; }
        catch (FormatException) { throw new HeadWiseException($"{option} '{text}' is not a comma-separated list of numbers"); }
        catch (OverflowException) { throw new HeadWiseException($"{option} '{text}' has a number out of range"); }
    }

    // The project's shared text, looked for above the working directory; tasks that need it say so when it is absent.
    private static string? FindDefaultHaystack()
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "shared", "data", "moby-dick.txt");
            if (File.Exists(p)) return p;
        }
        return null;
    }
}
