using System.CommandLine;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>Options that several verbs share, spelled once.</summary>
internal static class CommonOptions
{
    /// <summary>The shipped testbed model, the default where a verb works on any decoder.</summary>
    public const string TestbedModel = "models/testbed-2k/model.gguf";

    public static Option<string> Model(bool testbedDefault = true)
    {
        var option = new Option<string>("--model", "-m")
        {
            Description = "Model checkpoint: a .gguf file, a llama2.c .bin, a Hugging Face folder or a BERT .onnx" +
                          (testbedDefault ? $" (default: the shipped {TestbedModel})" : ""),
            Required = !testbedDefault,
        };
        if (testbedDefault) option.DefaultValueFactory = _ => FindTestbed();
        return option;
    }

    /// <summary>
    /// The testbed beside the CLI's build (walking up from it to the repository), else the relative path, whose loading
    /// then fails naming it.
    /// </summary>
    private static string FindTestbed()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, TestbedModel);
            if (File.Exists(candidate)) return candidate;
        }
        return TestbedModel;
    }

    public static Option<string?> Tokenizer() => new("--tokenizer")
    {
        Description = "Tokenizer file: tokenizer.json, a BERT vocab.txt or a llama2.c tokenizer.bin (default: the one beside or inside the model)",
    };

    /// <summary>--dtype for every verb that loads a model.</summary>
    public static Option<string?> DType() => new("--dtype")
    {
        Description = $"Compute dtype of the weights and matrix products: {HeadWise.Models.ComputeDTypes.Names} " +
                      "(default: f32 for float32 files, bf16 for BF16, F16 and quantised ones)",
    };

    public static Option<string?> Json() => new("--json") { Description = "Also write the result as JSON to this file" };
}

/// <summary>How a verb loads its model: --tokenizer and --dtype.</summary>
internal sealed class LoadOptionSet
{
    public Option<string?> Tokenizer { get; } = CommonOptions.Tokenizer();
    public Option<string?> DType { get; } = CommonOptions.DType();
    public IEnumerable<Option> All => [Tokenizer, DType];

    /// <summary>Call inside the command's guard: an unknown --dtype is a user error.</summary>
    public LoadOptions Get(ParseResult r) =>
        new() { Tokenizer = r.GetValue(Tokenizer), DType = r.GetValue(DType) is { } d ? ComputeDTypes.Parse(d) : null };
}
