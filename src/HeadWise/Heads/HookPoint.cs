using System.Text.RegularExpressions;

namespace HeadWise.Heads;

/// <summary>
/// What a hook point name means: its layer (null outside the blocks) and which tensor axes hold heads and positions,
/// so captures and interventions can slice any point by head and position range without knowing its shape by heart.
/// </summary>
public sealed partial record HookPoint(string Name, int? Layer, string Kind)
{
    /// <summary>Axis of the heads: 2 for [B,T,H,...] points (q, k, v, rot_q, rot_k, z, result), 1 for [B,H,T,S]; null when the point has no heads.</summary>
    public int? HeadAxis => Kind switch
    {
        "attn.hook_q" or "attn.hook_k" or "attn.hook_v" or "attn.hook_rot_q" or "attn.hook_rot_k" or "attn.hook_z" or "attn.hook_result" => 2,
        "attn.hook_attn_scores" or "attn.hook_pattern" => 1,
        _ => null,
    };

    /// <summary>Axis of the (query) positions.</summary>
    public int PositionAxis => HeadAxis == 1 ? 2 : 1;

    /// <summary>True for scores and pattern, whose hooks can ask the forward pass for only some heads.</summary>
    public bool IsAttentionMap => HeadAxis == 1;

    /// <summary>True for k, v and rot_k, which hold KV heads (fewer than query heads under GQA).</summary>
    public bool HoldsKvHeads => Kind is "attn.hook_k" or "attn.hook_v" or "attn.hook_rot_k";

    private static readonly HashSet<string> TopLevel = [HookNames.Embed, HookNames.PosEmbed, HookNames.FinalNormalized, HookNames.UnembedOut];
    private static readonly HashSet<string> LayerKinds =
    [
        "hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out",
        "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_rot_q", "attn.hook_rot_k",
        "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "attn.hook_result",
    ];

    [GeneratedRegex(@"^blocks\.(\d+)\.(.+)$")]
    private static partial Regex BlockName();

    /// <summary>Parses <paramref name="name"/>; throws naming the valid forms when it is not a hook point of a model with <paramref name="layers"/> blocks.</summary>
    public static HookPoint Parse(string name, int? layers = null)
    {
        if (name is null) throw new HeadWiseException("no hook point name given");
        if (TopLevel.Contains(name)) return new HookPoint(name, null, name);
        var m = BlockName().Match(name);
        if (m.Success && LayerKinds.Contains(m.Groups[2].Value) && int.TryParse(m.Groups[1].Value, out int l))
        {
            if (layers is { } n && l >= n) throw new HeadWiseException($"hook point '{name}': layer {l} does not exist (the model has {n} layers)");
            return new HookPoint(name, l, m.Groups[2].Value);
        }
        throw new HeadWiseException($"'{name}' is not a hook point; expected hook_embed, blocks.{{L}}.hook_resid_pre|hook_resid_mid|hook_resid_post|" +
                                    "hook_attn_out|hook_mlp_out, blocks.{L}.attn.hook_q|hook_k|hook_v|hook_rot_q|hook_rot_k|hook_attn_scores|" +
                                    "hook_pattern|hook_z|hook_result, ln_final.hook_normalized or unembed.hook_out");
    }
}
