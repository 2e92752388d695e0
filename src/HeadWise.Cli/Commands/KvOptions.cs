using System.CommandLine;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>
/// The KV cache options shared by generate, info, bench (and, as lists, sweep): `--policy`, `--budget` or
/// `--compression-ratio`, `--compress`, `--atlas`, `--kv-params`. Help texts come from the policies' declarations.
/// </summary>
internal sealed class KvOptions
{
    /// <summary>What a ratio budget is a fraction of, for every help text that mentions budgets.</summary>
    public const string RatioMeaning =
        "a ratio keeps that fraction of the tokens in the cache when it compresses: the context (--compress context), " +
        "context and question (question), or the tokens so far (chunked)";

    public Option<string?> Policy { get; } = new("--policy")
    {
        Description = "Head-wise KV cache policy (default: the plain full cache): " + string.Join("; ", KvPolicies.Declarations.Select(d => $"{d.Name} ({d.Method})")),
    };

    public Option<string> Budget { get; } = new("--budget")
    {
        Description = $"KV budget per KV head: a ratio in (0, 1] (0.25 keeps a quarter) or a token count (512); per layer 'a,b,..'; per KV head 'a,b;c,d'. {char.ToUpper(RatioMeaning[0])}{RatioMeaning[1..]}",
        DefaultValueFactory = _ => "0.25",
    };

    public Option<double?> CompressionRatio { get; } = new("--compression-ratio")
    {
        Description = "kvpress's name for 1 - budget: the fraction of the tokens removed when the cache compresses, in [0, 1) (instead of --budget)",
    };

    public Option<string> Compress { get; } = CompressOption();

    public Option<string?> Atlas { get; } = new("--atlas")
    {
        Description = "Head scores for " + string.Join("/", KvPolicies.Declarations.Where(d => d.ReadsScore is not null).Select(d => d.Name)) +
                      ": atlas.json, or DuoAttention's full_attention_heads.tsv",
    };

    public Option<string?> Params { get; } = new("--kv-params") { Description = ParamsHelp("key=value,... e.g. sinks=8") };

    /// <summary>The options that choose a policy (<see cref="Compress"/> is added by the verbs that run one).</summary>
    public IEnumerable<Option> All => [Policy, Budget, CompressionRatio, Atlas, Params];

    /// <summary>`--compress`, shared with sweep.</summary>
    public static Option<string> CompressOption() => new("--compress")
    {
        Description = "When a compressing cache compresses: context (kvpress's protocol: prefill the context, compress once, then the question " +
                      "and answer run with the policy's decode behaviour), question (compress after the question, the SnapKV paper's setting), " +
                      "chunked (after every 512-token prefill chunk and every decode step); generate's prompt is all context; " +
                      "tasks without a question (perplexity) default to chunked",
        DefaultValueFactory = _ => CompressModes.Default.Name(),
    };

    /// <summary>The parameters of every policy, with defaults and ranges, from the declarations.</summary>
    public static string ParamsHelp(string form) =>
        $"Policy parameters, {form}. " + string.Join("; ", KvPolicies.Declarations.Where(d => d.Parameters.Count > 0)
            .Select(d => $"{d.Name}: {string.Join(", ", d.Parameters.Select(p => p.Usage))}")) +
        $". pyramidkv, adakv and headkv take their scorer's parameters too (scorers: {string.Join(", ", KvPolicies.Scorers)})";

    /// <summary>The budget from --budget or --compression-ratio (not both).</summary>
    public KvBudget ReadBudget(ParseResult r)
    {
        if (r.GetValue(CompressionRatio) is not { } ratio) return KvBudget.Parse(r.GetValue(Budget)!);
        if (r.GetResult(Budget) is { Implicit: false })
            throw new HeadWiseException("give --budget or --compression-ratio, not both (--compression-ratio R keeps 1 - R)");
        return KvBudget.FromCompressionRatio(ratio);
    }

    public CompressMode ReadCompress(ParseResult r, Eval.IEvalTask? task = null) => ReadCompress(r, Compress, task);

    /// <summary>
    /// --compress as given; when not given, the default (context), except for a task that has no context to compress
    /// once (perplexity scores every token as it streams), which runs chunked. Given explicitly, such a task refuses one-shot modes.
    /// </summary>
    public static CompressMode ReadCompress(ParseResult r, Option<string> compress, Eval.IEvalTask? task) =>
        task is { HasContext: false } && r.GetResult(compress) is null or { Implicit: true } ? CompressMode.Chunked : CompressModes.Parse(r.GetValue(compress)!);

    /// <summary>The policy the parse result asks for, or null for the plain cache.</summary>
    public KvPolicy? Create(ParseResult r, ModelSpec spec)
    {
        var name = r.GetValue(Policy);
        return name is null ? null : Create(name, r, spec);
    }

    public KvPolicy Create(string name, ParseResult r, ModelSpec spec) =>
        KvPolicies.Create(name, ReadBudget(r), spec, LoadAtlas(r), r.GetValue(Params));

    /// <summary>The evaluation harness's cache factory for these options ("full" when no policy is given), checked against the model.</summary>
    public Eval.PolicyCacheFactory Factory(ParseResult r, ModelSpec spec, CompressMode compress) =>
        new Eval.PolicyCacheFactory(r.GetValue(Policy) ?? "full", ReadBudget(r), compress, LoadAtlas(r), r.GetValue(Params)).Check(spec);

    private HeadScores? LoadAtlas(ParseResult r) => r.GetValue(Atlas) is { } path ? HeadScores.Load(path) : null;
}
