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
internal static class HfExporter
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

    private static JsonObject Config(ModelSpec s, BpeVocabulary v, string dtype)
    {
        var config = BaseConfig(s, v, dtype);
        if (s.Attention is { } variant) config[Models.Variants.AttentionVariantJson.ConfigField] = Models.Variants.AttentionVariantJson.ToNode(variant);
        return config;
    }

    private static JsonObject BaseConfig(ModelSpec s, BpeVocabulary v, string dtype) => new()
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

    /// <summary>Each tensor under its Hugging Face name (the layout's), Q/K rows permuted from adjacent pairs to halves.</summary>
    private static IEnumerable<(string, long[], string, ReadOnlyMemory<float>)> Tensors(ModelSpec s, ModelWeights w, string dtype)
    {
        var layout = TensorLayout.For(s).ToDictionary(t => t.Name);
        foreach (var (name, t) in w.Named())
        {
            var slot = layout[name];
            var data = GgufExporter.Floats(t);
            if (slot.RopeHeads > 0) data = TensorLayout.PermuteRopeRows(data, slot.RopeHeads, s.HeadDim, halvesToPairs: false);
            var hfName = slot.HfName == "lm_head.weight" ? slot.HfName : "model." + slot.HfName;
            yield return (hfName, t.shape, dtype, data);
        }
    }
}
