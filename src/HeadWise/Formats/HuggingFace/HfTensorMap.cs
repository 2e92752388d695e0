using HeadWise.Models;

namespace HeadWise.Formats.HuggingFace;

/// <summary>How a stored tensor becomes a canonical one.</summary>
internal enum HfTransform
{
    Copy,
    /// <summary>[in, out] (GPT-2 Conv1D, ONNX MatMul) to [out, in].</summary>
    Transpose,
    /// <summary>Column block <c>Part</c> of <c>Parts</c> from a fused [in, Parts*out] matrix, transposed to [out, in] (GPT-2 c_attn).</summary>
    SplitTranspose,
    /// <summary>Block <c>Part</c> of <c>Parts</c> from a fused vector (GPT-2 c_attn bias).</summary>
    SplitVector,
}

/// <summary>One canonical tensor: where it is stored (HF name, without the model./transformer./bert. prefix) and its expected shape.</summary>
internal sealed record HfTensor(string Canonical, string Stored, long[] Shape, HfTransform Transform = HfTransform.Copy, int Part = 0, int Parts = 1)
{
    /// <summary>The canonical shape this stored shape turns into, or null when the transform cannot apply to it.</summary>
    public long[]? CanonicalShape(long[] stored) => Transform switch
    {
        HfTransform.Copy => stored,
        HfTransform.Transpose => stored.Length == 2 ? [stored[1], stored[0]] : null,
        HfTransform.SplitTranspose => stored.Length == 2 && stored[1] % Parts == 0 ? [stored[1] / Parts, stored[0]] : null,
        HfTransform.SplitVector => stored.Length == 1 && stored[0] % Parts == 0 ? [stored[0] / Parts] : null,
        _ => null,
    };

    /// <summary>Rearranges the stored elements (<paramref name="src"/>, shape <paramref name="stored"/>) into canonical order.</summary>
    public void Apply(ReadOnlySpan<float> src, long[] stored, Span<float> dst)
    {
        switch (Transform)
        {
            case HfTransform.Copy:
                src.CopyTo(dst);
                break;
            case HfTransform.SplitVector:
                src.Slice(Part * dst.Length, dst.Length).CopyTo(dst);
                break;
            default:
                // dst[o, i] = src[i, Part*outDim + o]
                int rows = (int)stored[0], cols = (int)stored[1], outDim = cols / Parts, offset = Part * outDim;
                for (var o = 0; o < outDim; o++)
                {
                    var row = dst.Slice(o * rows, rows);
                    for (var i = 0; i < rows; i++) row[i] = src[i * cols + offset + o];
                }
                break;
        }
    }
}

/// <summary>The canonical tensors each family needs, with their Hugging Face names and shapes.</summary>
internal static class HfTensorMap
{
    public static List<HfTensor> For(ModelSpec s, HfBiases b) => s.Architecture switch
    {
        "gpt2" => Gpt2(s),
        "bert" => Bert(s),
        _ => Decoder(s, b),
    };

    private static List<HfTensor> Decoder(ModelSpec s, HfBiases b)
    {
        long d = s.Dim, q = s.QDim, kv = s.KvDim, f = s.FfnDim;
        var list = new List<HfTensor> { new("token_embd.weight", "embed_tokens.weight", [s.VocabSize, d]) };
        for (var l = 0; l < s.Layers; l++)
        {
            string blk = $"blk.{l}.", hf = $"layers.{l}.";
            list.Add(new(blk + "attn_norm.weight", hf + "input_layernorm.weight", [d]));
            Linear(list, blk + "attn_q", hf + "self_attn.q_proj", q, d, b.Qkv);
            Linear(list, blk + "attn_k", hf + "self_attn.k_proj", kv, d, b.Qkv);
            Linear(list, blk + "attn_v", hf + "self_attn.v_proj", kv, d, b.Qkv);
            Linear(list, blk + "attn_output", hf + "self_attn.o_proj", d, q, b.AttnOutput);
            if (s.QkNorm)
            {
                list.Add(new(blk + "attn_q_norm.weight", hf + "self_attn.q_norm.weight", [s.HeadDim]));
                list.Add(new(blk + "attn_k_norm.weight", hf + "self_attn.k_norm.weight", [s.HeadDim]));
            }
            list.Add(new(blk + "ffn_norm.weight", hf + "post_attention_layernorm.weight", [d]));
            Linear(list, blk + "ffn_gate", hf + "mlp.gate_proj", f, d, b.Ffn);
            Linear(list, blk + "ffn_up", hf + "mlp.up_proj", f, d, b.Ffn);
            Linear(list, blk + "ffn_down", hf + "mlp.down_proj", d, f, b.Ffn);
        }
        list.Add(new("output_norm.weight", "norm.weight", [d]));
        if (!s.TiedEmbeddings) list.Add(new("output.weight", "lm_head.weight", [s.VocabSize, d]));
        return list;
    }

    private static List<HfTensor> Gpt2(ModelSpec s)
    {
        long d = s.Dim, f = s.FfnDim;
        var list = new List<HfTensor>
        {
            new("token_embd.weight", "wte.weight", [s.VocabSize, d]),
            new("position_embd.weight", "wpe.weight", [s.ContextLength, d]),
        };
        for (var l = 0; l < s.Layers; l++)
        {
            string blk = $"blk.{l}.", hf = $"h.{l}.";
            Norm(list, blk + "attn_norm", hf + "ln_1", d);
            string[] qkv = ["attn_q", "attn_k", "attn_v"];
            for (var p = 0; p < 3; p++)
            {
                list.Add(new($"{blk}{qkv[p]}.weight", hf + "attn.c_attn.weight", [d, d], HfTransform.SplitTranspose, p, 3));
                list.Add(new($"{blk}{qkv[p]}.bias", hf + "attn.c_attn.bias", [d], HfTransform.SplitVector, p, 3));
            }
            Conv1D(list, blk + "attn_output", hf + "attn.c_proj", d, d);
            Norm(list, blk + "ffn_norm", hf + "ln_2", d);
            Conv1D(list, blk + "ffn_up", hf + "mlp.c_fc", f, d);
            Conv1D(list, blk + "ffn_down", hf + "mlp.c_proj", d, f);
        }
        Norm(list, "output_norm", "ln_f", d);
        if (!s.TiedEmbeddings) list.Add(new("output.weight", "lm_head.weight", [s.VocabSize, d]));
        return list;
    }

    internal static List<HfTensor> Bert(ModelSpec s)
    {
        long d = s.Dim, f = s.FfnDim;
        var list = new List<HfTensor>
        {
            new("token_embd.weight", "embeddings.word_embeddings.weight", [s.VocabSize, d]),
            new("position_embd.weight", "embeddings.position_embeddings.weight", [s.ContextLength, d]),
            new("token_types.weight", "embeddings.token_type_embeddings.weight", [s.TokenTypes, d]),
        };
        Norm(list, "token_embd_norm", "embeddings.LayerNorm", d);
        for (var l = 0; l < s.Layers; l++)
        {
            string blk = $"blk.{l}.", hf = $"encoder.layer.{l}.";
            Linear(list, blk + "attn_q", hf + "attention.self.query", d, d, true);
            Linear(list, blk + "attn_k", hf + "attention.self.key", d, d, true);
            Linear(list, blk + "attn_v", hf + "attention.self.value", d, d, true);
            Linear(list, blk + "attn_output", hf + "attention.output.dense", d, d, true);
            Norm(list, blk + "attn_output_norm", hf + "attention.output.LayerNorm", d);
            Linear(list, blk + "ffn_up", hf + "intermediate.dense", f, d, true);
            Linear(list, blk + "ffn_down", hf + "output.dense", d, f, true);
            Norm(list, blk + "layer_output_norm", hf + "output.LayerNorm", d);
        }
        return list;
    }

    private static void Linear(List<HfTensor> list, string canonical, string hf, long outDim, long inDim, bool bias)
    {
        list.Add(new(canonical + ".weight", hf + ".weight", [outDim, inDim]));
        if (bias) list.Add(new(canonical + ".bias", hf + ".bias", [outDim]));
    }

    /// <summary>GPT-2's Conv1D stores its weight as [in, out]; canonical is [out, in].</summary>
    private static void Conv1D(List<HfTensor> list, string canonical, string hf, long outDim, long inDim)
    {
        list.Add(new(canonical + ".weight", hf + ".weight", [outDim, inDim], HfTransform.Transpose));
        list.Add(new(canonical + ".bias", hf + ".bias", [outDim]));
    }

    private static void Norm(List<HfTensor> list, string canonical, string hf, long dim)
    {
        list.Add(new(canonical + ".weight", hf + ".weight", [dim]));
        list.Add(new(canonical + ".bias", hf + ".bias", [dim]));
    }
}
