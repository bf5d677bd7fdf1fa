"""The session login page, throttled per username and client address like the token
endpoint (annotate.services.logins): a locked-out attempt is refused before the password is
checked, and the page says when to try again."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from annotate.services.logins import (
    LoginThrottled,
    LoginUnavailable,
    client_address,
    login_attempt_check,
    login_failure_record,
    login_success_record,
)


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.attempt = (request.POST.get("username", ""), client_address(request.META))
        try:
            login_attempt_check(username=self.attempt[0], address=self.attempt[1])
            return super().post(request, *args, **kwargs)
        except LoginThrottled as locked:
            return self._refused(locked.message, 429, {"Retry-After": str(locked.retry_after)})
        except LoginUnavailable as error:
            return self._refused(error.message, 503, {"Retry-After": "30"})

    def form_valid(self, form) -> HttpResponse:
        login_success_record(username=self.attempt[0], address=self.attempt[1])
        return super().form_valid(form)

    def form_invalid(self, form) -> HttpResponse:
        # A form without both fields never reached a password check: nothing to count.
        if form.cleaned_data.get("username") and form.cleaned_data.get("password"):
            login_failure_record(username=self.attempt[0], address=self.attempt[1])
        return super().form_invalid(form)

    def _refused(self, message: str, status: int, headers: dict) -> HttpResponse:
        context = self.get_context_data(form=self.get_form_class()(self.request), refused=message)
        response = self.render_to_response(context, status=status)
        for name, value in headers.items():
            response[name] = value
        return response
