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
        Description = "KV budget: a ratio of the context (0.25) or tokens (512); per layer 'a,b,..'; per head 'a,b;c,d'",
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

    public KvPolicy Create(string name, ParseResult r, ModelSpec spec)
    {
        var atlasPath = r.GetValue(Atlas);
        return KvPolicies.Create(name, KvBudget.Parse(r.GetValue(Budget)!), spec, atlasPath is null ? null : HeadScores.Load(atlasPath), r.GetValue(Params));
    }
}
