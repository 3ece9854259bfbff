"""The standard Jupyter kernel conformance suite (jupyter_kernel_test) for rust-autograd."""
import unittest

import jupyter_kernel_test

import conftest  # noqa: F401  (installs the kernelspec)


class RustAutogradKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "rust-autograd"
    language_name = "rust"
    file_extension = ".rs"

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("oops");'
    completion_samples = [{"text": "let zz_value = 1; zz_va", "matches": {"zz_value"}}]
    complete_code_samples = ["let x = 1;", "fn f() -> i32 { 3 }", "show!(tensor!([1., 2.]));"]
    incomplete_code_samples = ["fn f() {", "let v = vec![1,", "for i in 0..3 {\n  println!(\"{}\", i);"]
    invalid_code_samples = ["}"]
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "tensor!([1., 2.]) * 2.0", "result": "tensor([2., 4.])"},
    ]
    code_display_data = [
        {"code": "display(&tensor!([1., 2.]));", "mime": "text/html"},
        {"code": "display(&tensor!([1., 2.]));", "mime": "text/plain"},
    ]
    code_inspect_sample = "std::vec::Vec"
    code_history_pattern = "*"
    supported_history_operations = ("tail",)
    code_generate_error = 'panic!("boom");'

    def test_tensor_result_has_repr_and_html(self):
        self.flush_channels()
        reply, output = self.execute_helper(code="ones(&[2, 2]).requires_grad_(true)")
        self.assertEqual(reply["content"]["status"], "ok")
        results = [m for m in output if m["msg_type"] == "execute_result"]
        self.assertEqual(len(results), 1)
        data = results[0]["content"]["data"]
        self.assertEqual(data["text/plain"], "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)")
        self.assertIn("requires_grad", data["text/html"])


if __name__ == "__main__":
    unittest.main()
