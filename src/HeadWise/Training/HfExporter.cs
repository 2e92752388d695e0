using System.Text.Json;
using System.Text.Json.Nodes;
using HeadWise.Formats.Safetensors;
using HeadWise.Models;
using HeadWise.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>
/// Writes a trained model as a Hugging Face Llama folder: config.json, model.safetensors, tokenizer.json.
/// Hugging Face Llama rotates Q/K in the halves layout, so each head's rows are permuted from interleaved
/// (pairs 2i, 2i+1) to halves (i, i + d/2): the inverse of the permutation llama.cpp's converter applies.
/// </summary>
public static class HfExporter
{
    public static void Write(string dir, ModelSpec spec, ModelWeights w, BpeVocabulary vocab, string dtype = "F32")
    {
        if (spec.Architecture != "llama" || spec.Rope != RopeLayout.Interleaved)
            throw new ArgumentException($"HfExporter writes interleaved-RoPE llama models, not {spec.Architecture}/{spec.Rope}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), Config(spec, vocab, dtype).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), Tensors(spec, w, dtype), new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), TokenizerJsonWriter.Build(vocab));
    }

    private static JsonObject Config(ModelSpec s, BpeVocabulary v, string dtype) => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["hidden_size"] = s.Dim,
        ["intermediate_size"] = s.FfnDim,
        ["num_hidden_layers"] = s.Layers,
        ["num_attention_heads"] = s.Heads,
        ["num_key_value_heads"] = s.KvHeads,
        ["head_dim"] = s.HeadDim,
        ["max_position_embeddings"] = s.ContextLength,
        ["rms_norm_eps"] = s.NormEps,
        ["rope_theta"] = s.RopeTheta,
        ["vocab_size"] = s.VocabSize,
        ["hidden_act"] = "silu",
        ["tie_word_embeddings"] = false,
        ["attention_bias"] = false,
        ["mlp_bias"] = false,
        ["bos_token_id"] = v.BosId,
        ["eos_token_id"] = v.EosId,
        ["torch_dtype"] = dtype == "F32" ? "float32" : dtype == "BF16" ? "bfloat16" : "float16",
    };

    private static IEnumerable<(string, long[], string, ReadOnlyMemory<float>)> Tensors(ModelSpec s, ModelWeights w, string dtype)
    {
        (string, long[], string, ReadOnlyMemory<float>) T(string name, Tensor t) => (name, t.shape, dtype, GgufExporter.Floats(t));
        yield return T("model.embed_tokens.weight", w.TokenEmbedding);
        for (int l = 0; l < s.Layers; l++)
        {
            var b = w.Layers[l];
            string p = $"model.layers.{l}.";
            yield return T(p + "input_layernorm.weight", b.AttnNorm);
            using (var q = ToHalves(b.Wq, s.Heads, s.HeadDim)) yield return T(p + "self_attn.q_proj.weight", q);
            using (var k = ToHalves(b.Wk, s.KvHeads, s.HeadDim)) yield return T(p + "self_attn.k_proj.weight", k);
            yield return T(p + "self_attn.v_proj.weight", b.Wv);
            yield return T(p + "self_attn.o_proj.weight", b.Wo);
            yield return T(p + "post_attention_layernorm.weight", b.FfnNorm);
            yield return T(p + "mlp.gate_proj.weight", b.WGate!);
            yield return T(p + "mlp.up_proj.weight", b.WUp);
            yield return T(p + "mlp.down_proj.weight", b.WDown);
        }
        yield return T("model.norm.weight", w.OutputNorm!);
        yield return T("lm_head.weight", w.Output!);
    }

    /// <summary>Rows of each head reordered from (0,1),(2,3),... pairs to [evens, odds]: [heads*d, in] → same shape.</summary>
    public static Tensor ToHalves(Tensor weight, int heads, int headDim)
    {
        using var scope = torch.NewDisposeScope();
        var x = weight.detach().reshape(heads, headDim / 2, 2, -1).transpose(1, 2).reshape(heads * headDim, -1).contiguous();
        return x.MoveToOuterDisposeScope();
    }
}
