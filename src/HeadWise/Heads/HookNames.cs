namespace HeadWise.Heads;

/// <summary>
/// TransformerLens hook point names, made from the table in <see cref="HookPoints"/> (which gives each point's shape).
/// <c>HookNames.ForLayer(3).Pattern</c> is <c>"blocks.3.attn.hook_pattern"</c>; <c>HookNames.ForLayer(3)[kind]</c> names any
/// kind of the table.
/// </summary>
public static class HookNames
{
    /// <summary><c>hook_embed</c>: token embeddings [B,T,D].</summary>
    public static readonly string Embed = HookPoints.Embed.Suffix;
    /// <summary><c>hook_pos_embed</c>: learned position embeddings [B,T,D].</summary>
    public static readonly string PosEmbed = HookPoints.PosEmbed.Suffix;
    /// <summary><c>ln_final.hook_scale</c> [B,T,1].</summary>
    public static readonly string FinalScale = HookPoints.FinalScale.Suffix;
    /// <summary><c>ln_final.hook_normalized</c> [B,T,D].</summary>
    public static readonly string FinalNormalized = HookPoints.FinalNormalized.Suffix;
    /// <summary><c>unembed.hook_out</c>: logits [B,T,V].</summary>
    public static readonly string UnembedOut = HookPoints.UnembedOut.Suffix;

    /// <summary>The names of one block's points, built once per layer so the forward pass does no string work.</summary>
    public sealed class Layer
    {
        private readonly Dictionary<HookPointKind, string> _names;

        internal Layer(int l) => _names = HookPoints.InBlock.ToDictionary(k => k, k => k.NameIn(l));

        /// <summary>The name of <paramref name="kind"/> (a kind inside blocks) in this layer.</summary>
        public string this[HookPointKind kind] => _names.TryGetValue(kind, out var n) ? n
            : throw new HeadWiseException($"'{kind.Suffix}' is not a hook point inside blocks");

        /// <summary><c>hook_resid_pre</c>.</summary>
        public string ResidPre => this[HookPoints.ResidPre];
        /// <summary><c>hook_attn_in</c>.</summary>
        public string AttnIn => this[HookPoints.AttnIn];
        /// <summary><c>ln1.hook_scale</c>.</summary>
        public string Ln1Scale => this[HookPoints.Ln1Scale];
        /// <summary><c>ln1.hook_normalized</c>.</summary>
        public string Ln1Normalized => this[HookPoints.Ln1Normalized];
        /// <summary><c>attn.hook_q</c>.</summary>
        public string Q => this[HookPoints.Q];
        /// <summary><c>attn.hook_k</c>.</summary>
        public string K => this[HookPoints.K];
        /// <summary><c>attn.hook_v</c>.</summary>
        public string V => this[HookPoints.V];
        /// <summary><c>attn.hook_rot_q</c>.</summary>
        public string RotQ => this[HookPoints.RotQ];
        /// <summary><c>attn.hook_rot_k</c>.</summary>
        public string RotK => this[HookPoints.RotK];
        /// <summary><c>attn.hook_attn_scores</c>.</summary>
        public string Scores => this[HookPoints.Scores];
        /// <summary><c>attn.hook_pattern</c>.</summary>
        public string Pattern => this[HookPoints.Pattern];
        /// <summary><c>attn.hook_z</c>.</summary>
        public string Z => this[HookPoints.Z];
        /// <summary><c>attn.hook_result</c>.</summary>
        public string Result => this[HookPoints.Result];
        /// <summary><c>hook_attn_out</c>.</summary>
        public string AttnOut => this[HookPoints.AttnOut];
        /// <summary><c>hook_resid_mid</c>.</summary>
        public string ResidMid => this[HookPoints.ResidMid];
        /// <summary><c>ln2.hook_scale</c>.</summary>
        public string Ln2Scale => this[HookPoints.Ln2Scale];
        /// <summary><c>ln2.hook_normalized</c>.</summary>
        public string Ln2Normalized => this[HookPoints.Ln2Normalized];
        /// <summary><c>mlp.hook_pre</c>.</summary>
        public string MlpPre => this[HookPoints.MlpPre];
        /// <summary><c>mlp.hook_post</c>.</summary>
        public string MlpPost => this[HookPoints.MlpPost];
        /// <summary><c>hook_mlp_out</c>.</summary>
        public string MlpOut => this[HookPoints.MlpOut];
        /// <summary><c>hook_resid_post</c>.</summary>
        public string ResidPost => this[HookPoints.ResidPost];

        /// <summary>Every name of this block, in forward order.</summary>
        public IEnumerable<string> All => HookPoints.InBlock.Select(k => _names[k]);
    }

    private static readonly List<Layer> Cache = [];

    /// <summary>The names of block <paramref name="l"/>.</summary>
    public static Layer ForLayer(int l)
    {
        if (l < 0) throw new HeadWiseException($"layer {l} is negative");
        lock (Cache)
        {
            while (Cache.Count <= l) Cache.Add(new Layer(Cache.Count));
            return Cache[l];
        }
    }

    /// <summary>Every hook point name of a model with <paramref name="layers"/> blocks, in forward order.</summary>
    public static IEnumerable<string> All(int layers)
    {
        foreach (var k in HookPoints.All.TakeWhile(k => !k.InBlock)) yield return k.Suffix;
        for (int l = 0; l < layers; l++)
            foreach (var n in ForLayer(l).All) yield return n;
        foreach (var k in HookPoints.All.SkipWhile(k => !k.InBlock).Where(k => !k.InBlock)) yield return k.Suffix;
    }
}
