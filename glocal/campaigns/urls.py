from django.urls import path

from . import budget_views, views

app_name = "campaigns"
urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/simulate/", views.simulate, name="simulate"),
    path("<int:pk>/audience/", views.audience_review, name="audience"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/decide/", views.decide, name="decide"),
    path("approvals/confirm/", views.approvals_confirm, name="approvals_confirm"),
    path("proofs/<int:pk>/", views.proof, name="proof"),
    path("operations/", views.operations, name="operations"),
    path("operations/new/", views.operation_new, name="operation_new"),
    path("operations/<int:pk>/", views.operation, name="operation"),
    path("operations/<int:pk>/waves/", views.wave_new, name="wave_new"),
    path("operations/<int:pk>/publish/", views.operation_publish, name="operation_publish"),
    path("operations/<int:pk>/cancel/", views.operation_cancel, name="operation_cancel"),
    path("operations/<int:pk>/participate/", views.participate, name="participate"),
    path("waves/<int:pk>/defaults/", views.wave_defaults, name="wave_defaults"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/new/", views.slot_new, name="slot_new"),
    path("budgets/", budget_views.budgets, name="budgets"),
    path("budgets/<int:pk>/", budget_views.budget, name="budget"),
    path("budgets/<int:pk>/edit/", budget_views.budget_edit, name="budget_edit"),
    path("budgets/<int:pk>/close/", budget_views.budget_close, name="budget_close"),
    path("settings/", views.campaign_settings, name="settings"),
    path("approval-policies/", views.approval_policies, name="policies"),
]
