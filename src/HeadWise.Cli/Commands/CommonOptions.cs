using System.CommandLine;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>Options that several verbs share, spelled once.</summary>
internal static class CommonOptions
{
    /// <summary>The shipped testbed model, the default where a verb works on any decoder.</summary>
    public const string TestbedModel = "models/testbed-2k/model.gguf";

    /// <summary>
    /// --model for verbs that run any decoder: defaults to the shipped testbed (shown once, relative, in the help; found
    /// beside the CLI's build or above the working folder by <see cref="ResolveModel"/>).
    /// </summary>
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model checkpoint: a .gguf file, a llama2.c .bin or a Hugging Face model folder",
        DefaultValueFactory = _ => TestbedModel,
    };

    /// <summary>--model for verbs that need one kind of model file, described by <paramref name="what"/>; no default.</summary>
    public static Option<string> Model(string what) => new("--model", "-m") { Description = what, Required = true };

    /// <summary>
    /// The path to load: the testbed default is looked for beside the CLI's build (walking up to the repository) and above
    /// the working folder; any other path is used as given.
    /// </summary>
    public static string ResolveModel(string path)
    {
        if (path != TestbedModel || File.Exists(path)) return path;
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, TestbedModel);
                if (File.Exists(candidate)) return candidate;
            }
        throw new HeadWiseException($"the default model {TestbedModel} (the testbed shipped in the HeadWise repository) was not found " +
                                    "above this folder or the tool; pass --model PATH");
    }

    public static Option<string?> Tokenizer(string? what = null) => new("--tokenizer")
    {
        Description = what ?? "Tokenizer file: tokenizer.json or a llama2.c tokenizer.bin (default: the one inside a GGUF or beside the model)",
    };

    /// <summary>--dtype for every verb that loads a model.</summary>
    public static Option<string?> DType() => new("--dtype")
    {
        Description = $"Compute dtype of the weights and matrix products: {HeadWise.Models.ComputeDTypes.Names} " +
                      "(default: f32 for float32 files, bf16 for BF16, F16 and quantised ones)",
    };

    /// <summary>--activations for every verb that loads a model.</summary>
    public static Option<string?> Activations() => new("--activations")
    {
        Description = $"Rounding of each matrix product's input: {HeadWise.Models.ActivationRoundings.Names} (default none). " +
                      "ggml: as llama.cpp's CPU backend does for the GGUF tensor's type (8-bit blocks for quantized weights, " +
                      "float16 for F16), so that logits match llama.cpp on the same file; needs --dtype f32",
    };

    public static Option<string?> Json() => new("--json") { Description = "Also write the result as JSON to this file" };

    public static Option<string?> SaveActivations() => new("--save-activations")
    {
        Description = "Also write the captured activations to this .safetensors file (hook point names; Python: safetensors.torch.load_file)",
    };
}

/// <summary>How a verb loads its model: --tokenizer, --dtype and --activations.</summary>
internal sealed class LoadOptionSet(string? tokenizerWhat = null)
{
    public Option<string?> Tokenizer { get; } = CommonOptions.Tokenizer(tokenizerWhat);
    public Option<string?> DType { get; } = CommonOptions.DType();
    public Option<string?> Activations { get; } = CommonOptions.Activations();
    public IEnumerable<Option> All => [Tokenizer, DType, Activations];

    /// <summary>Call inside the command's guard: an unknown --dtype or --activations is a user error.</summary>
    public LoadOptions Get(ParseResult r) => new()
    {
        Tokenizer = r.GetValue(Tokenizer),
        DType = r.GetValue(DType) is { } d ? ComputeDTypes.Parse(d) : null,
        Activations = r.GetValue(Activations) is { } a ? ActivationRoundings.Parse(a) : ActivationRounding.None,
    };
}
