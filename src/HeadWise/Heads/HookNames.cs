namespace HeadWise.Heads;

/// <summary>
/// TransformerLens hook point names. Shapes (batch B, positions T, keys S, heads H, KV heads K):
/// hook_embed [B,T,D]; resid_pre/mid/post, attn_out, mlp_out [B,T,D]; hook_q [B,T,H,d] and hook_k/hook_v [B,T,K,d]
/// before RoPE, hook_rot_q/hook_rot_k after it; hook_attn_scores and hook_pattern [B,H,T,S]; hook_z [B,T,H,d];
/// hook_result [B,T,H,D] (each head's output after W_O, bias excluded); ln_final.hook_normalized [B,T,D];
/// unembed.hook_out [B,T,V].
/// </summary>
public static class HookNames
{
    public const string Embed = "hook_embed";
    public const string PosEmbed = "hook_pos_embed";
    public const string FinalNormalized = "ln_final.hook_normalized";
    public const string UnembedOut = "unembed.hook_out";

    /// <summary>The per-layer names, built once per layer so the forward pass does no string work.</summary>
    public sealed class Layer
    {
        public Layer(int l)
        {
            string b = $"blocks.{l}.";
            ResidPre = b + "hook_resid_pre"; ResidMid = b + "hook_resid_mid"; ResidPost = b + "hook_resid_post";
            AttnOut = b + "hook_attn_out"; MlpOut = b + "hook_mlp_out";
            Q = b + "attn.hook_q"; K = b + "attn.hook_k"; V = b + "attn.hook_v";
            RotQ = b + "attn.hook_rot_q"; RotK = b + "attn.hook_rot_k";
            Scores = b + "attn.hook_attn_scores"; Pattern = b + "attn.hook_pattern";
            Z = b + "attn.hook_z"; Result = b + "attn.hook_result";
        }

        public string ResidPre { get; }
        public string ResidMid { get; }
        public string ResidPost { get; }
        public string AttnOut { get; }
        public string MlpOut { get; }
        public string Q { get; }
        public string K { get; }
        public string V { get; }
        public string RotQ { get; }
        public string RotK { get; }
        public string Scores { get; }
        public string Pattern { get; }
        public string Z { get; }
        public string Result { get; }

        public IEnumerable<string> All => [ResidPre, Q, K, V, RotQ, RotK, Scores, Pattern, Z, Result, AttnOut, ResidMid, MlpOut, ResidPost];
    }

    private static readonly List<Layer> Cache = [];

    public static Layer ForLayer(int l)
    {
        lock (Cache)
        {
            while (Cache.Count <= l) Cache.Add(new Layer(Cache.Count));
            return Cache[l];
        }
    }

    /// <summary>Every hook point name of a model with <paramref name="layers"/> blocks, in forward order.</summary>
    public static IEnumerable<string> All(int layers)
    {
        yield return Embed;
        for (int l = 0; l < layers; l++)
            foreach (var n in ForLayer(l).All) yield return n;
        yield return FinalNormalized;
        yield return UnembedOut;
    }
}
