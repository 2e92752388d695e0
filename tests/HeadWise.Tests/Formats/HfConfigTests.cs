using Xunit;
using HeadWise.Formats.HuggingFace;
using HeadWise.Models;

namespace HeadWise.Tests.Formats;

/// <summary>Configs as the published checkpoints ship them (values copied from the hub's config.json files).</summary>
public class HfConfigTests
{
    internal const string Qwen2_0_5B = """
        {"architectures":["Qwen2ForCausalLM"],"attention_dropout":0.0,"bos_token_id":151643,"eos_token_id":151643,
         "hidden_act":"silu","hidden_size":896,"initializer_range":0.02,"intermediate_size":4864,
         "max_position_embeddings":131072,"max_window_layers":24,"model_type":"qwen2","num_attention_heads":14,
         "num_hidden_layers":24,"num_key_value_heads":2,"rms_norm_eps":1e-06,"rope_theta":1000000.0,
         "sliding_window":131072,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.40.1",
         "use_cache":true,"use_sliding_window":false,"vocab_size":151936}
        """;

    private const string Llama32_1B = """
        {"architectures":["LlamaForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":128000,
         "eos_token_id":128001,"head_dim":64,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,
         "intermediate_size":8192,"max_position_embeddings":131072,"mlp_bias":false,"model_type":"llama",
         "num_attention_heads":32,"num_hidden_layers":16,"num_key_value_heads":8,"pretraining_tp":1,"rms_norm_eps":1e-05,
         "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
         "rope_theta":500000.0,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.45.0.dev0",
         "use_cache":true,"vocab_size":128256}
        """;

    private const string Qwen3_0_6B = """
        {"architectures":["Qwen3ForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":151643,
         "eos_token_id":151645,"head_dim":128,"hidden_act":"silu","hidden_size":1024,"initializer_range":0.02,
         "intermediate_size":3072,"max_position_embeddings":40960,"max_window_layers":28,"model_type":"qwen3",
         "num_attention_heads":16,"num_hidden_layers":28,"num_key_value_heads":8,"rms_norm_eps":1e-06,"rope_scaling":null,
         "rope_theta":1000000,"sliding_window":null,"tie_word_embeddings":true,"torch_dtype":"bfloat16",
         "transformers_version":"4.51.0","use_cache":true,"use_sliding_window":false,"vocab_size":151936}
        """;

    private const string Mistral7B = """
        {"architectures":["MistralForCausalLM"],"bos_token_id":1,"eos_token_id":2,"hidden_act":"silu","hidden_size":4096,
         "initializer_range":0.02,"intermediate_size":14336,"max_position_embeddings":32768,"model_type":"mistral",
         "num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_theta":10000.0,
         "sliding_window":4096,"tie_word_embeddings":false,"torch_dtype":"bfloat16","transformers_version":"4.34.0.dev0",
         "use_cache":true,"vocab_size":32000}
        """;

    private const string Gpt2 = """
        {"activation_function":"gelu_new","architectures":["GPT2LMHeadModel"],"attn_pdrop":0.1,"bos_token_id":50256,
         "embd_pdrop":0.1,"eos_token_id":50256,"initializer_range":0.02,"layer_norm_epsilon":1e-05,"model_type":"gpt2",
         "n_ctx":1024,"n_embd":768,"n_head":12,"n_layer":12,"n_positions":1024,"resid_pdrop":0.1,
         "summary_activation":null,"summary_first_dropout":0.1,"summary_proj_to_labels":true,"summary_type":"cls_index",
         "summary_use_proj":true,"task_specific_params":{"text-generation":{"do_sample":true,"max_length":50}},"vocab_size":50257}
        """;

    private const string BertBase = """
        {"architectures":["BertForMaskedLM"],"attention_probs_dropout_prob":0.1,"gradient_checkpointing":false,
         "hidden_act":"gelu","hidden_dropout_prob":0.1,"hidden_size":768,"initializer_range":0.02,"intermediate_size":3072,
         "layer_norm_eps":1e-12,"max_position_embeddings":512,"model_type":"bert","num_attention_heads":12,
         "num_hidden_layers":12,"pad_token_id":0,"position_embedding_type":"absolute","transformers_version":"4.6.0.dev0",
         "type_vocab_size":2,"use_cache":true,"vocab_size":30522}
        """;

    [Fact]
    public void Qwen2()
    {
        var s = HfConfig.Parse(Qwen2_0_5B, "config.json");
        Assert.Equal(("qwen2", 24, 896, 14, 2, 64, 4864, 151936, 131072), (s.Architecture, s.Layers, s.Dim, s.Heads, s.KvHeads, s.HeadDim, s.FfnDim, s.VocabSize, s.ContextLength));
        Assert.Equal(1e-6, s.NormEps);
        Assert.Equal(1_000_000, s.RopeTheta);
        Assert.Equal(RopeLayout.Halves, s.Rope);
        Assert.True(s.TiedEmbeddings);
        Assert.False(s.QkNorm);
        Assert.Null(s.RopeScaling);
        Assert.Equal("BF16", s.WeightType);
    }

    [Fact]
    public void Llama3WithRopeScaling()
    {
        var s = HfConfig.Parse(Llama32_1B, "config.json");
        Assert.Equal(("llama", 16, 2048, 32, 8, 64, 8192), (s.Architecture, s.Layers, s.Dim, s.Heads, s.KvHeads, s.HeadDim, s.FfnDim));
        Assert.Equal(500000, s.RopeTheta);
        Assert.Equal(1e-5, s.NormEps);
        Assert.Equal(new RopeScaling("llama3", 32, 1, 4, 8192), s.RopeScaling);
        Assert.Equal(FeedForwardKind.SwiGlu, s.FeedForward);
        Assert.Equal(NormKind.RmsNorm, s.Norm);
        Assert.True(s.Causal);
    }

    [Fact]
    public void LinearRopeScalingWithLegacyTypeKey()
    {
        var json = Mistral7B.Replace("\"rope_theta\":10000.0", "\"rope_theta\":10000.0,\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}");
        Assert.Equal(new RopeScaling("linear", 2), HfConfig.Parse(json, "config.json").RopeScaling);
    }

    [Fact]
    public void Qwen3HeadDimComesFromConfigAndEnablesQkNorm()
    {
        var s = HfConfig.Parse(Qwen3_0_6B, "config.json");
        Assert.Equal(128, s.HeadDim);  // not 1024 / 16
        Assert.Equal(16 * 128, s.QDim);
        Assert.True(s.QkNorm);
        Assert.Equal(28, s.Layers);
    }

    [Fact]
    public void Mistral()
    {
        var s = HfConfig.Parse(Mistral7B, "config.json");
        Assert.Equal(("mistral", 32, 4096, 32, 8, 128, 14336, 32000), (s.Architecture, s.Layers, s.Dim, s.Heads, s.KvHeads, s.HeadDim, s.FfnDim, s.VocabSize));
        Assert.False(s.TiedEmbeddings);
        Assert.Equal(10000, s.RopeTheta);
    }

    [Fact]
    public void Gpt2IsLayerNormGeluTanhLearnedPositionsTied()
    {
        var s = HfConfig.Parse(Gpt2, "config.json");
        Assert.Equal(("gpt2", 12, 768, 12, 12, 64, 3072, 50257, 1024), (s.Architecture, s.Layers, s.Dim, s.Heads, s.KvHeads, s.HeadDim, s.FfnDim, s.VocabSize, s.ContextLength));
        Assert.Equal((NormKind.LayerNorm, FeedForwardKind.GeluTanh, PositionKind.Learned, true, true), (s.Norm, s.FeedForward, s.Positions, s.TiedEmbeddings, s.Causal));
        Assert.Equal(1e-5, s.NormEps);
    }

    [Fact]
    public void BertIsPostNormEncoder()
    {
        var s = HfConfig.Parse(BertBase, "config.json");
        Assert.Equal(("bert", 12, 768, 12, 64, 3072, 30522, 512, 2), (s.Architecture, s.Layers, s.Dim, s.Heads, s.HeadDim, s.FfnDim, s.VocabSize, s.ContextLength, s.TokenTypes));
        Assert.Equal((NormKind.LayerNorm, FeedForwardKind.Gelu, PositionKind.Learned, false, true), (s.Norm, s.FeedForward, s.Positions, s.Causal, s.PostNorm));
        Assert.Equal(1e-12, s.NormEps);
    }

    [Fact]
    public void UnknownModelTypeIsNamedWithTheSupportedOnes()
    {
        var e = Assert.Throws<InvalidModelFileException>(() => HfConfig.Parse(Gpt2.Replace("\"gpt2\"", "\"falcon\""), "/m/config.json"));
        Assert.Contains("'falcon'", e.Message);
        Assert.Contains("llama, mistral, qwen2, qwen3, gpt2, bert", e.Message);
        Assert.Equal("/m/config.json", e.Path);
    }

    [Theory]
    [InlineData("\"hidden_size\":896,", "hidden_size")]
    [InlineData("\"num_hidden_layers\":24,", "num_hidden_layers")]
    [InlineData("\"intermediate_size\":4864,", "intermediate_size")]
    [InlineData("\"model_type\":\"qwen2\",", "model_type")]
    public void MissingRequiredFieldIsNamed(string remove, string field)
    {
        var e = Assert.Throws<InvalidModelFileException>(() => HfConfig.Parse(Qwen2_0_5B.Replace(remove, ""), "config.json"));
        Assert.Contains($"'{field}' is missing", e.Message);
    }

    [Fact]
    public void UnsupportedRopeScalingIsNamed()
    {
        var json = Mistral7B.Replace("\"rope_theta\":10000.0", "\"rope_theta\":10000.0,\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}");
        Assert.Contains("'yarn'", Assert.Throws<InvalidModelFileException>(() => HfConfig.Parse(json, "config.json")).Message);
    }
}
