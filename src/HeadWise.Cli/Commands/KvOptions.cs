using System.CommandLine;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>The head-wise KV cache options (`--policy`, `--budget`, `--atlas`, `--kv-params`) shared by generate, info and bench.</summary>
internal sealed class KvOptions
{
    public Option<string?> Policy { get; } = new("--policy")
    {
        Description = $"Head-wise KV cache policy: {string.Join(", ", KvPolicies.Names)} (default: the plain full cache)",
    };

    public Option<string> Budget { get; } = new("--budget")
    {
        Description = "KV budget of each head: a ratio of the tokens seen so far (0.25 keeps a quarter of them) or a token count (512); per layer 'a,b,..'; per KV head 'a,b;c,d'",
        DefaultValueFactory = _ => "0.25",
    };

    public Option<string?> Atlas { get; } = new("--atlas")
    {
        Description = "Head scores for headkv/duo/taskkv: atlas.json, or DuoAttention's full_attention_heads.tsv",
    };

    public Option<string?> Params { get; } = new("--kv-params") { Description = "Policy parameters, key=value,... (e.g. sinks=8)" };

    public IEnumerable<Option> All => [Policy, Budget, Atlas, Params];

    /// <summary>The policy the parse result asks for, or null for the plain cache.</summary>
    public KvPolicy? Create(ParseResult r, ModelSpec spec)
    {
        var name = r.GetValue(Policy);
        return name is null ? null : Create(name, r, spec);
    }

    public KvPolicy Create(string name, ParseResult r, ModelSpec spec) =>
        KvPolicies.Create(name, KvBudget.Parse(r.GetValue(Budget)!), spec, LoadAtlas(r), r.GetValue(Params));

    /// <summary>The evaluation harness's cache factory for these options ("full" when no policy is given), checked against the model.</summary>
    public Eval.PolicyCacheFactory Factory(ParseResult r, ModelSpec spec) =>
        new Eval.PolicyCacheFactory(r.GetValue(Policy) ?? "full", KvBudget.Parse(r.GetValue(Budget)!), LoadAtlas(r), r.GetValue(Params)).Check(spec);

    private HeadScores? LoadAtlas(ParseResult r) => r.GetValue(Atlas) is { } path ? HeadScores.Load(path) : null;
}
